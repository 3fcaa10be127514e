-- Tamper evidence (issue 27, docs/protocol.md §6 and §9, docs/records.md): every wallet's ledger
-- rows form a hash chain. Each row carries its wallet's next `seq` (1, 2, ...), `prev_hash` (the
-- previous row's row_hash; 64 zeros for seq 1) and `row_hash`, the lower-case hex SHA-256 of the
-- §6 members joined by '|'. The wallet row holds the head (chain_seq, chain_head).
--
-- The chain is written by the INSERT itself, by two triggers, so that no path that writes a ledger
-- row (the callbacks' ledger.record, the seed's opening deposits, any later kind of row) can skip
-- it or write it differently:
-- - BEFORE INSERT (row) locks the wallet (FOR NO KEY UPDATE: the lock every callback already
--   holds, taken first, so two writers of one wallet are serialised and a chain never forks),
--   reads the head and fills seq, prev_hash, row_hash from the row as it is stored (created_at
--   included, after its default);
-- - AFTER INSERT (row) moves the head to the row. It runs only for a row that was inserted: an
--   INSERT ... ON CONFLICT DO NOTHING that stores nothing (the idempotency gate) advances nothing,
--   so a head never names a row that does not exist.
-- Both run as their owner (SECURITY DEFINER): the application role has no privilege on the chain
-- columns at all, and whatever an INSERT names for them is overwritten. A row without a wallet
-- (none is written by the application; only tests write such rows) is in no chain.
--
-- Nothing inside the database can stop its owner from rewriting a chain consistently; that is
-- what the anchors published outside it are for (functions/ops/anchor, docs/records.md).

ALTER TABLE casino_wallets
    ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN chain_head TEXT NOT NULL DEFAULT repeat('0', 64);
ALTER TABLE casino_transactions
    ADD COLUMN seq BIGINT,
    ADD COLUMN prev_hash TEXT,
    ADD COLUMN row_hash TEXT;

-- The §6 recipe. Members: prevHash, walletId, seq, transactionId, kind, status, amount,
-- redeemableAmount, balanceAfter, currency, userId, roundId, reason, errorCode, createdAt; NULL as
-- the empty string, integers in decimal, createdAt in UTC with microseconds and 'Z'. How each
-- member comes from the columns: docs/protocol.md §10 (redeemableAmount = |redeemable_delta|,
-- reason NULL for every kind written today). seamless/contract/chain.py is the same recipe in
-- Python (verify-ledger recomputes with it, never with this function).
CREATE FUNCTION casino_chain_row_hash(
    p_prev TEXT, p_wallet BIGINT, p_seq BIGINT, p_transaction_id TEXT, p_kind TEXT, p_status TEXT,
    p_amount BIGINT, p_redeemable BIGINT, p_balance_after BIGINT, p_currency TEXT, p_user UUID,
    p_round TEXT, p_reason TEXT, p_error TEXT, p_created TIMESTAMPTZ)
RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        coalesce(p_prev, '') || '|' || coalesce(p_wallet::text, '') || '|' || coalesce(p_seq::text, '')
        || '|' || coalesce(p_transaction_id, '') || '|' || coalesce(p_kind, '') || '|' || coalesce(p_status, '')
        || '|' || coalesce(p_amount::text, '') || '|' || coalesce(p_redeemable::text, '')
        || '|' || coalesce(p_balance_after::text, '') || '|' || coalesce(p_currency, '')
        || '|' || coalesce(p_user::text, '') || '|' || coalesce(p_round, '') || '|' || coalesce(p_reason, '')
        || '|' || coalesce(p_error, '') || '|'
        || coalesce(pg_catalog.to_char(p_created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''),
        'UTF8')), 'hex')
$$;

-- The hash of a stored row (its wallet's currency joined in by the caller). No SET clause on
-- these two, like the ledger's per-callback helpers (sql/casino/functions/00_helpers.sql): the
-- planner inlines them into the trigger's cached expression (a SET clause would make every call
-- plan the SQL function anew), and every name they use is schema-qualified.
CREATE FUNCTION casino_chain_hash_of(t public.casino_transactions, p_currency TEXT) RETURNS TEXT  -- noqa: CP05
LANGUAGE sql STABLE AS $$
    SELECT public.casino_chain_row_hash(t.prev_hash, t.wallet_id, t.seq, t.transaction_id, t.kind, t.status, t.amount,
                                 pg_catalog.abs(t.redeemable_delta), t.balance_after, pg_catalog.rtrim(p_currency), t.user_id,
                                 t.round_id, NULL, t.error_code, t.created_at)
$$;

-- BEFORE INSERT: the row's place in its wallet's chain. The head is the wallet's, or a row this same
-- statement inserted before (its AFTER trigger has not run yet: they run at the statement's end);
-- the unique index (wallet_id, seq) is the last word against a fork either way.
CREATE FUNCTION casino_chain_link() RETURNS TRIGGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_seq BIGINT;
    v_head TEXT;
    v_currency TEXT;
    v_last RECORD;
BEGIN
    IF NEW.wallet_id IS NULL THEN
        NEW.seq := NULL; NEW.prev_hash := NULL; NEW.row_hash := NULL;
        RETURN NEW;
    END IF;
    SELECT w.chain_seq, w.chain_head, w.currency INTO v_seq, v_head, v_currency
      FROM casino_wallets w WHERE w.id = NEW.wallet_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key refuses the row
    END IF;
    SELECT t.seq, t.row_hash INTO v_last
      FROM casino_transactions t WHERE t.wallet_id = NEW.wallet_id AND t.seq > v_seq
     ORDER BY t.seq DESC LIMIT 1;
    IF FOUND THEN
        v_seq := v_last.seq;
        v_head := v_last.row_hash;
    END IF;
    NEW.seq := v_seq + 1;
    NEW.prev_hash := v_head;
    NEW.row_hash := casino_chain_hash_of(NEW, v_currency);
    RETURN NEW;
END $$;

-- AFTER INSERT: the wallet's head moves to the row just stored.
CREATE FUNCTION casino_chain_advance() RETURNS TRIGGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE casino_wallets SET chain_seq = NEW.seq, chain_head = NEW.row_hash
     WHERE id = NEW.wallet_id AND chain_seq < NEW.seq;
    RETURN NULL;
END $$;

-- The existing chains, in their original order (the ledger's id order per wallet), before the
-- triggers exist. The migration holds ACCESS EXCLUSIVE on both tables (ALTER TABLE above, wallets
-- first: the callbacks' order), so no row is written meanwhile. Rows are updated in batches from
-- arrays; the guard that refuses changes to finished rows is off for this one transaction only.
ALTER TABLE casino_transactions DISABLE TRIGGER casino_transactions_finished_rows_are_final;
DO $$
DECLARE
    r RECORD;
    v_row casino_transactions;
    v_wallet BIGINT;
    v_seq BIGINT := 0;
    v_prev TEXT;
    v_ids BIGINT[] := '{}';
    v_seqs BIGINT[] := '{}';
    v_prevs TEXT[] := '{}';
    v_hashes TEXT[] := '{}';
BEGIN
    FOR r IN SELECT t AS tx, w.currency FROM casino_transactions t JOIN casino_wallets w ON w.id = t.wallet_id
              ORDER BY t.wallet_id, t.id LOOP
        v_row := r.tx;
        IF v_row.wallet_id IS DISTINCT FROM v_wallet THEN
            IF v_wallet IS NOT NULL THEN
                UPDATE casino_wallets SET chain_seq = v_seq, chain_head = v_prev WHERE id = v_wallet;
            END IF;
            v_wallet := v_row.wallet_id;
            v_seq := 0;
            v_prev := repeat('0', 64);
        END IF;
        v_seq := v_seq + 1;
        v_row.seq := v_seq;
        v_row.prev_hash := v_prev;
        v_prev := casino_chain_hash_of(v_row, r.currency);
        v_ids := v_ids || v_row.id;
        v_seqs := v_seqs || v_seq;
        v_prevs := v_prevs || v_row.prev_hash;
        v_hashes := v_hashes || v_prev;
        IF cardinality(v_ids) >= 10000 THEN
            UPDATE casino_transactions t SET seq = u.seq, prev_hash = u.prev_hash, row_hash = u.row_hash
              FROM unnest(v_ids, v_seqs, v_prevs, v_hashes) AS u (id, seq, prev_hash, row_hash) WHERE t.id = u.id;
            v_ids := '{}'; v_seqs := '{}'; v_prevs := '{}'; v_hashes := '{}';
        END IF;
    END LOOP;
    UPDATE casino_transactions t SET seq = u.seq, prev_hash = u.prev_hash, row_hash = u.row_hash
      FROM unnest(v_ids, v_seqs, v_prevs, v_hashes) AS u (id, seq, prev_hash, row_hash) WHERE t.id = u.id;
    IF v_wallet IS NOT NULL THEN
        UPDATE casino_wallets SET chain_seq = v_seq, chain_head = v_prev WHERE id = v_wallet;
    END IF;
END $$;
ALTER TABLE casino_transactions ENABLE TRIGGER casino_transactions_finished_rows_are_final;

-- One place per row in its wallet's chain; a row with a wallet always has its link. The unique
-- index is also how the export reads one wallet's rows in order (seq), page by page.
CREATE UNIQUE INDEX casino_transactions_chain ON casino_transactions (wallet_id, seq);
ALTER TABLE casino_transactions
    ADD CONSTRAINT casino_transactions_chained
        CHECK (wallet_id IS NULL OR (seq >= 1 AND prev_hash ~ '^[0-9a-f]{64}$' AND row_hash ~ '^[0-9a-f]{64}$'));
ALTER TABLE casino_wallets
    ADD CONSTRAINT casino_wallets_chain_head CHECK (chain_seq >= 0 AND chain_head ~ '^[0-9a-f]{64}$');
-- The export's time range (from, to): a BRIN index, a few pages for the whole ledger (rows are
-- written in created_at order), nothing per insert beyond its summary.
CREATE INDEX casino_transactions_created_brin ON casino_transactions USING brin (created_at);

CREATE TRIGGER casino_transactions_chain_link
BEFORE INSERT ON casino_transactions
FOR EACH ROW EXECUTE FUNCTION casino_chain_link();

CREATE TRIGGER casino_transactions_chain_advance
AFTER INSERT ON casino_transactions
FOR EACH ROW WHEN (new.wallet_id IS NOT NULL)
EXECUTE FUNCTION casino_chain_advance();

-- A row's link never changes, not even while it is pending (0002's guard lets a pending row be
-- finished): the chain columns are written by the INSERT only.
CREATE TRIGGER casino_transactions_chain_is_final
BEFORE UPDATE ON casino_transactions
FOR EACH ROW WHEN (old.seq IS DISTINCT FROM new.seq OR old.prev_hash IS DISTINCT FROM new.prev_hash
                   OR old.row_hash IS DISTINCT FROM new.row_hash OR old.wallet_id IS DISTINCT FROM new.wallet_id)
EXECUTE FUNCTION casino_refuse_history_change('a ledger row''s place in its chain never changes');
