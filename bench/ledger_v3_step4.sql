-- Ledger v3 step 4, measured and not kept: sql/casino/functions/*.sql as of commit 45c2f6a (fewer
-- statements per callback; reverted, see bench/experiments.md). bench/experiments.py loads it into a
-- throwaway bench database (on the migrated v3 schema). Not migrated, not linted; never loaded into
-- a real database.
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The casino ledger's helpers, used by the one function per provider callback in the
-- files beside this one.
--
-- Why the rules live in PL/pgSQL: each callback is then exactly one statement, one database
-- round trip and one transaction. The ledger row, the round, the wallet update and the stored
-- response commit together or not at all, and a concurrent duplicate waits on the unique index
-- instead of racing in Python.
-- seamless/casino/ledger.py is the typed Python face of these functions.
--
-- The write path (ledger v3, issue 14), the same in debit, credit and rollback:
--   1. one statement: the session, the request's hash and the stored answer for the
--      transactionId, if any (a replay takes no lock);
--   2. the wallet row, FOR NO KEY UPDATE: every callback of a wallet is serialised here, first,
--      so the rows the callback then reads (its round, its bet) cannot change under it - every
--      writer of a round or a refund is a callback of the round owner's session, whose wallet
--      this is - and no foreign-key KEY SHARE on the wallet creates a MultiXact;
--   3. the bet id's lock (ledger.lock_bet_id): a debit past the currency check locks its own
--      transactionId, a rollback the bet it names, before either looks for the other. This
--      serialises a debit and a rollback racing on one bet id from different wallets: whichever
--      commits first is seen by the other - the debit's ledger row by the rollback (no
--      tombstone), the rollback's tombstone by the debit (BET_ROLLED_BACK). A tombstone is the
--      rollback's own ledger row (tombstone = true), found through its small partial index;
--      there is no claim row of its own (ledger v2's casino_bet_claims, dropped by migration
--      0004);
--   4. the checks, in §4's order, reading the round and the bet without locking them; a new round
--      is inserted where the decision needs it;
--   5. the ledger row, written ONCE with its final outcome and response, and the wallet's
--      movement in the same statement (ledger.record): INSERT ... ON CONFLICT DO NOTHING on the
--      unique (provider_id, transaction_id) index, the idempotency gate, and the wallet UPDATE
--      only when that row was written. A concurrent request with the same transactionId that got
--      there first makes this one wait for its commit; then its stored answer is sent instead,
--      and the round this request inserted is deleted again (nothing else was written);
--   6. a credit's flags on an existing round.
--
-- Lock order, the same in every function (so no deadlock is possible): wallet row -> bet id
-- (a transaction-level advisory lock) -> round row -> own transactionId row. A callback takes at
-- most one lock of each kind. The one taken out of this order, a credit's update of an existing
-- round's flags after its own row, is on a row that only callbacks holding the same wallet write.
--
-- The entry points (ledger.debit, credit, rollback, get_balance) pin their search_path. The
-- helpers they call on every callback do not (a SET clause keeps the planner from inlining a SQL
-- function and costs every call a GUC save and restore): they name every table by its schema,
-- the SQL ones are inlined into their caller's plan, and nobody but the migrating admin can
-- create an object that would shadow a name (sql/database.sql).
--
-- Every callback function returns (status, body, replayed): the HTTP status, the exact
-- response body text, and whether it is a replay of a stored response - one that another
-- invocation of the handler wrote (p_invocation, a random id per handler invocation).

CREATE SCHEMA ledger;

-- The normalised fields of docs/protocol.md §5, not the raw body: key order, whitespace and
-- unknown fields do not change the hash; the player is resolved from the token. STABLE, not
-- IMMUTABLE (jsonb_build_array is only stable), so that the planner inlines it.
CREATE FUNCTION ledger.request_hash(
    p_endpoint TEXT, p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT,
    p_bet TEXT, p_closed BOOLEAN)
RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(
        pg_catalog.jsonb_build_array(p_endpoint, p_user, p_currency, p_round, p_amount, p_bet, p_closed)::text,
        'UTF8'))
$$;

CREATE FUNCTION ledger.error_body(p_code TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT c.http_status,
           (pg_catalog.jsonb_build_object('error',
                pg_catalog.jsonb_build_object('code', c.code, 'message', c.message)) || p_extra)::text
      INTO status, body
      FROM public.casino_error_catalog c WHERE c.code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'error code % is not in casino_error_catalog (run migrate)', p_code;
    END IF;
END $$;

-- The session behind a token, whatever its expiry; only active (launched) sessions count.
-- Plain SQL without a SET clause: inlined into the callback's own (cached) plan, not planned
-- again on every call as a SQL function that cannot be inlined is.
CREATE FUNCTION ledger.session_by_token(p_token_hash BYTEA)
RETURNS TABLE (session_id UUID, user_id UUID, wallet_id BIGINT, provider_id BIGINT,
               currency TEXT, expired BOOLEAN, blocked BOOLEAN, min_bet BIGINT, max_bet BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT gs.id, gs.user_id, gs.wallet_id, gs.provider_id, gs.currency::text,
           gs.expires_at <= pg_catalog.now(), u.status = 'blocked', g.min_bet, g.max_bet
      FROM public.casino_game_sessions gs
      JOIN public.casino_users u ON u.id = gs.user_id
      JOIN public.casino_games g ON g.id = gs.game_id
     WHERE gs.token_hash = p_token_hash AND gs.status = 'active'
$$;

-- The providers holding a transactionId. An unknown token names no provider (and the
-- callback signature is not per provider), so every provider is probed: one lookup per
-- provider in the unique index (provider_id, transaction_id) - there are a handful of them -
-- never a scan of the ledger. Plain SQL, not STRICT: the planner inlines it into its caller,
-- which lets EXPLAIN show (and a test check) the plan the caller runs.
CREATE FUNCTION ledger.stored_transaction(p_transaction_id TEXT)
RETURNS TABLE (provider_id BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT t.provider_id
      FROM public.casino_transactions t
     WHERE t.provider_id = ANY(ARRAY(SELECT p.id FROM public.casino_game_providers p))
       AND t.transaction_id = p_transaction_id
$$;

-- Unknown token: the request cannot be the same as any stored one (its player cannot be
-- resolved), so a known transactionId is a conflict; otherwise SESSION_NOT_FOUND.
CREATE FUNCTION ledger.unknown_session(p_transaction_id TEXT, OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_transaction_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM ledger.stored_transaction(p_transaction_id)) THEN
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('TRANSACTION_ID_CONFLICT') e;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('SESSION_NOT_FOUND') e;
    END IF;
END $$;

-- The answer stored for a transactionId: its response for the same request (same hash), a
-- conflict for another; no row when nothing is stored (a caller's SELECT ... INTO then reads
-- status NULL). replayed is true only when another invocation wrote the row: the same
-- invocation finding its own row (db.run_idempotent re-ran it after a lost commit
-- acknowledgement) is sending its first answer. A caller that names no invocation (NULL) gets
-- every stored answer as a replay. Plain SQL: inlined into the caller's plan (the conflict's
-- body, built by ledger.error_body, only when the hash differs).
CREATE FUNCTION ledger.stored_answer(
    p_provider BIGINT, p_transaction_id TEXT, p_hash BYTEA, p_invocation UUID)
RETURNS TABLE (status INT, body TEXT, replayed BOOLEAN)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.request_hash = p_hash THEN t.response_status
                ELSE (ledger.error_body('TRANSACTION_ID_CONFLICT')).status END,
           CASE WHEN t.request_hash = p_hash THEN t.response_body
                ELSE (ledger.error_body('TRANSACTION_ID_CONFLICT')).body END,
           CASE WHEN t.request_hash = p_hash
                THEN p_invocation IS NULL OR t.invocation_id IS DISTINCT FROM p_invocation
                ELSE false END
      FROM public.casino_transactions t
     WHERE t.provider_id = p_provider AND t.transaction_id = p_transaction_id
$$;

-- Step 3 of the write path: the lock a debit takes on its own transactionId and a rollback on
-- the bet it names, held until the transaction ends (a transaction-level advisory lock: no row,
-- no WAL). Two different ids may share a key (a 64-bit hash): they are then serialised for
-- nothing, never wrongly let through. The caller looks for the other side in its next statement,
-- whose snapshot is taken after the lock was granted.
CREATE FUNCTION ledger.lock_bet_id(p_provider BIGINT, p_transaction_id TEXT)
RETURNS VOID LANGUAGE sql AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_transaction_id, p_provider))
$$;

-- The tombstones rollbacks left for a bet id: their ledger rows (tombstone = true), through the
-- partial index casino_transactions_tombstone. A set-returning SQL function, so that the planner
-- inlines it into the caller's EXISTS (a scalar one holding a sub-select is not inlined).
CREATE FUNCTION ledger.tombstones(p_provider BIGINT, p_bet TEXT)
RETURNS TABLE (transaction_id TEXT)
LANGUAGE sql STABLE AS $$
    SELECT t.transaction_id FROM public.casino_transactions t
     WHERE t.provider_id = p_provider AND t.bet_transaction_id = p_bet AND t.tombstone
$$;

-- Writes the transactionId's ledger row once, with its final outcome: accepted (p_code NULL: the
-- deltas, the balances after and the 200 body, p_extra adding endpoint-specific fields) or a
-- stored business rejection (p_code, p_extra adding e.g. the 402's balance; nothing moves).
-- An accepted row that moves money updates the wallet (which the caller holds locked) in the
-- same statement, only when the row was written: the movement and its ledger row are one write.
-- The unique index is the idempotency gate: when another request holds the transactionId,
-- this waits for it to commit and returns written = false with that request's stored answer
-- (or a conflict); the caller then undoes what it inserted before and writes nothing more.
CREATE FUNCTION ledger.record(
    p_provider BIGINT, p_transaction_id TEXT, p_kind TEXT, p_hash BYTEA, p_session UUID,
    p_user UUID, p_wallet BIGINT, p_round TEXT, p_bet TEXT, p_amount BIGINT, p_closed BOOLEAN,
    p_tombstone BOOLEAN, p_invocation UUID, p_code TEXT, p_extra JSONB,
    p_playable_delta BIGINT, p_redeemable_delta BIGINT, p_balance BIGINT, p_redeemable BIGINT,
    p_currency TEXT,
    OUT written BOOLEAN, OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    v_id BIGINT := pg_catalog.nextval('public.casino_transactions_id_seq'::REGCLASS);
BEGIN
    replayed := false;
    IF p_code IS NULL THEN
        status := 200;
        body := (pg_catalog.jsonb_build_object(
            'transactionId', p_transaction_id,
            'casinoTransactionId', v_id::text,
            'balance', p_balance,
            'redeemableBalance', p_redeemable,
            'currency', p_currency) || p_extra)::text;
        WITH ins AS (
            INSERT INTO public.casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                             session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                             round_closed, tombstone, amount, playable_delta, redeemable_delta,
                                             balance_after, redeemable_after, response_status, response_body,
                                             invocation_id)
            OVERRIDING SYSTEM VALUE
            VALUES (v_id, p_provider, p_transaction_id, p_kind, 'accepted', p_hash,
                    p_session, p_user, p_wallet, p_round, p_bet,
                    p_closed, p_tombstone, p_amount, p_playable_delta, p_redeemable_delta,
                    p_balance, p_redeemable, status, body, p_invocation)
            ON CONFLICT (provider_id, transaction_id) DO NOTHING
            RETURNING 1
        ), moved AS (
            UPDATE public.casino_wallets w
               SET playable_balance = w.playable_balance + p_playable_delta,
                   redeemable_balance = w.redeemable_balance + p_redeemable_delta,
                   updated_at = pg_catalog.now()
             WHERE w.id = p_wallet AND (p_playable_delta <> 0 OR p_redeemable_delta <> 0)
               AND EXISTS (SELECT 1 FROM ins)
        )
        SELECT count(*) = 1 INTO written FROM ins;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body(p_code, p_extra) e;
        INSERT INTO public.casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                         session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                         round_closed, amount, error_code, response_status, response_body,
                                         invocation_id)
        OVERRIDING SYSTEM VALUE
        VALUES (v_id, p_provider, p_transaction_id, p_kind, 'rejected', p_hash,
                p_session, p_user, p_wallet, p_round, p_bet,
                p_closed, p_amount, p_code, status, body, p_invocation)
        ON CONFLICT (provider_id, transaction_id) DO NOTHING;
        written := FOUND;
    END IF;
    IF NOT written THEN
        SELECT * INTO status, body, replayed
          FROM ledger.stored_answer(p_provider, p_transaction_id, p_hash, p_invocation);
    END IF;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.get_balance(p_token_hash BYTEA,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_session RECORD;
    v_wallet RECORD;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(NULL);
        RETURN;
    END IF;
    IF v_session.expired THEN
        SELECT * INTO status, body FROM ledger.error_body('SESSION_EXPIRED');
        RETURN;
    END IF;
    SELECT playable_balance, redeemable_balance INTO v_wallet FROM casino_wallets WHERE id = v_session.wallet_id;
    status := 200;
    body := jsonb_build_object('balance', v_wallet.playable_balance,
                               'redeemableBalance', v_wallet.redeemable_balance,
                               'currency', v_session.currency)::text;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A debit writes a new round, then its ledger row
-- (once) with the wallet's movement in the same statement; a refused one only its ledger row.
-- Past the currency check it holds its bet id's lock, so a rollback racing with it either left
-- its tombstone before (BET_ROLLED_BACK) or finds this debit's row after (a refund, or no effect
-- for a refused debit), never neither.
CREATE FUNCTION ledger.debit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_session RECORD;
    v_hash BYTEA;
    v_wallet RECORD;
    v_round RECORD;
    v_round_found BOOLEAN;
    v_created BOOLEAN := false;
    v_code TEXT;
    v_extra JSONB := '{}'::JSONB;
    v_from_redeemable BIGINT;
    v_rec RECORD;
BEGIN
    replayed := false;
    SELECT s.*, h.hash, a.status AS stored_status, a.body AS stored_body, a.replayed AS stored_replayed
      INTO v_session
      FROM ledger.session_by_token(p_token_hash) s
     CROSS JOIN LATERAL (SELECT ledger.request_hash('debit', s.user_id, p_currency, p_round, p_amount, NULL, false) AS hash) h
      LEFT JOIN LATERAL ledger.stored_answer(s.provider_id, p_transaction_id, h.hash, p_invocation) a ON true;
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    IF v_session.stored_status IS NOT NULL THEN
        status := v_session.stored_status; body := v_session.stored_body; replayed := v_session.stored_replayed;
        RETURN;
    END IF;
    v_hash := v_session.hash;

    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    IF v_session.expired THEN
        v_code := 'SESSION_EXPIRED';
    ELSIF v_session.blocked THEN
        v_code := 'PLAYER_BLOCKED';
    ELSIF p_currency <> v_session.currency THEN
        v_code := 'CURRENCY_MISMATCH';
    ELSE
        -- The bet id's lock, then (a new snapshot) the tombstone a rollback that came first left,
        -- and the round.
        PERFORM ledger.lock_bet_id(v_session.provider_id, p_transaction_id);
        SELECT EXISTS (SELECT 1 FROM ledger.tombstones(v_session.provider_id, p_transaction_id)) AS tombstoned,
               r.session_id, r.closed
          INTO v_round
          FROM (VALUES (1)) AS one (x)
          LEFT JOIN casino_rounds r ON r.provider_id = v_session.provider_id AND r.round_id = p_round;
        IF v_round.tombstoned THEN
            v_code := 'BET_ROLLED_BACK';
        END IF;
    END IF;

    IF v_code IS NULL THEN
        v_round_found := v_round.session_id IS NOT NULL;
        IF NOT v_round_found AND p_amount BETWEEN v_session.min_bet AND v_session.max_bet
           AND v_wallet.playable_balance >= p_amount THEN
            -- The bet is good: it opens the round. A conflict is another session's callback that
            -- opened it meanwhile (one of this wallet's would have been seen: it held the wallet).
            INSERT INTO casino_rounds (provider_id, round_id, session_id, wallet_id)
            VALUES (v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id)
            ON CONFLICT DO NOTHING;
            v_created := FOUND;
            IF NOT v_created THEN
                SELECT r.session_id, r.closed INTO v_round
                  FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
                v_round_found := true;
            END IF;
        END IF;
        IF v_round_found AND v_round.session_id <> v_session.session_id THEN
            v_code := 'ROUND_MISMATCH';
        ELSIF v_round_found AND v_round.closed THEN
            v_code := 'ROUND_CLOSED';
        ELSIF p_amount < v_session.min_bet OR p_amount > v_session.max_bet THEN
            v_code := 'BET_LIMIT_EXCEEDED';
        ELSIF v_wallet.playable_balance < p_amount THEN
            v_code := 'INSUFFICIENT_FUNDS';
            v_extra := jsonb_build_object('balance', v_wallet.playable_balance);
        END IF;
    END IF;

    IF v_code IS NULL THEN
        -- Bonus-type money (playable - redeemable) is spent first, then redeemable.
        v_from_redeemable := GREATEST(0, p_amount - (v_wallet.playable_balance - v_wallet.redeemable_balance));
    ELSE
        v_from_redeemable := 0;
    END IF;
    SELECT * INTO v_rec FROM ledger.record(
        v_session.provider_id, p_transaction_id, 'debit', v_hash, v_session.session_id,
        v_session.user_id, v_session.wallet_id, p_round, NULL, p_amount, false, false, p_invocation,
        v_code, v_extra, -p_amount, -v_from_redeemable, v_wallet.playable_balance - p_amount,
        v_wallet.redeemable_balance - v_from_redeemable, v_session.currency);
    status := v_rec.status; body := v_rec.body; replayed := v_rec.replayed;
    IF NOT v_rec.written AND v_created THEN
        -- Another request holds this transactionId: undo this one's insert.
        DELETE FROM casino_rounds WHERE provider_id = v_session.provider_id AND round_id = p_round;
    END IF;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A credit writes its round (a new one with its
-- flags), its ledger row (once) with, for more than 0, the wallet's movement in the same statement,
-- and the flags of an existing round when they change; a refused one only its ledger row.
CREATE FUNCTION ledger.credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_bet TEXT, p_closed BOOLEAN, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_session RECORD;
    v_hash BYTEA;
    v_wallet RECORD;
    v_round RECORD;
    v_round_found BOOLEAN := false;
    v_created BOOLEAN := false;
    v_bet RECORD;
    v_code TEXT;
    v_rec RECORD;
BEGIN
    replayed := false;
    SELECT s.*, h.hash, a.status AS stored_status, a.body AS stored_body, a.replayed AS stored_replayed
      INTO v_session
      FROM ledger.session_by_token(p_token_hash) s
     CROSS JOIN LATERAL (SELECT ledger.request_hash('credit', s.user_id, p_currency, p_round, p_amount, p_bet, p_closed) AS hash) h
      LEFT JOIN LATERAL ledger.stored_answer(s.provider_id, p_transaction_id, h.hash, p_invocation) a ON true;
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    IF v_session.stored_status IS NOT NULL THEN
        status := v_session.stored_status; body := v_session.stored_body; replayed := v_session.stored_replayed;
        RETURN;
    END IF;
    v_hash := v_session.hash;

    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    -- Money owed to the player is always paid: no expiry or block check here.
    IF p_currency <> v_session.currency THEN
        v_code := 'CURRENCY_MISMATCH';
    ELSE
        SELECT r.session_id, r.has_credit, r.closed INTO v_round
          FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
        v_round_found := FOUND;
        IF v_round_found AND v_round.session_id <> v_session.session_id THEN
            v_code := 'ROUND_MISMATCH';
        ELSIF v_round_found AND v_round.closed THEN
            v_code := 'ROUND_CLOSED';
        ELSIF p_bet IS NOT NULL THEN
            SELECT t.status, t.session_id, t.round_id INTO v_bet
              FROM casino_transactions t
             WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_bet AND t.kind = 'debit';
            IF EXISTS (SELECT 1 FROM ledger.tombstones(v_session.provider_id, p_bet)) THEN
                v_code := 'BET_ROLLED_BACK';
            ELSIF v_bet.status IS DISTINCT FROM 'accepted'
                  OR v_bet.session_id <> v_session.session_id OR v_bet.round_id <> p_round THEN
                v_code := 'BET_NOT_FOUND';
            ELSIF EXISTS (SELECT 1 FROM casino_transactions t
                           WHERE t.provider_id = v_session.provider_id AND t.bet_transaction_id = p_bet
                             AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
                v_code := 'BET_ROLLED_BACK';
            END IF;
        END IF;
        IF v_code IS NULL AND NOT v_round_found THEN
            -- A win without a bet opens the round, with its flags. A conflict is another
            -- session's callback that opened it meanwhile (this wallet's would have been seen).
            INSERT INTO casino_rounds (provider_id, round_id, session_id, wallet_id, has_credit, closed)
            VALUES (v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id, true, p_closed)
            ON CONFLICT DO NOTHING;
            v_created := FOUND;
            IF NOT v_created THEN
                SELECT r.session_id, r.has_credit, r.closed INTO v_round
                  FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
                v_round_found := true;
                IF v_round.session_id <> v_session.session_id THEN
                    v_code := 'ROUND_MISMATCH';
                ELSIF v_round.closed THEN
                    v_code := 'ROUND_CLOSED';
                END IF;
            END IF;
        END IF;
    END IF;

    SELECT * INTO v_rec FROM ledger.record(
        v_session.provider_id, p_transaction_id, 'credit', v_hash, v_session.session_id,
        v_session.user_id, v_session.wallet_id, p_round, p_bet, p_amount, p_closed, false, p_invocation,
        v_code, '{}'::JSONB, p_amount, p_amount, v_wallet.playable_balance + p_amount,
        v_wallet.redeemable_balance + p_amount, v_session.currency);
    status := v_rec.status; body := v_rec.body; replayed := v_rec.replayed;
    IF NOT v_rec.written THEN
        -- Another request holds this transactionId: undo this one's insert.
        IF v_created THEN
            DELETE FROM casino_rounds WHERE provider_id = v_session.provider_id AND round_id = p_round;
        END IF;
        RETURN;
    END IF;
    IF v_code IS NOT NULL THEN
        RETURN;
    END IF;
    -- The wallet moved with the row (ledger.record, for more than 0); the round's flags.
    IF v_round_found AND (NOT v_round.has_credit OR p_closed) THEN
        UPDATE casino_rounds SET has_credit = true, closed = p_closed
         WHERE provider_id = v_session.provider_id AND round_id = p_round;
    END IF;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A rollback writes its ledger row (once), with the
-- wallet's movement in the same statement for a refund; a refused one only its row. For an unknown bet its row is the tombstone
-- (tombstone = true), written under the bet id's lock, so a debit with that id racing with it
-- either committed before (then its row is found here) or sees the tombstone after.
CREATE FUNCTION ledger.rollback(
    p_token_hash BYTEA, p_transaction_id TEXT, p_bet TEXT, p_round TEXT, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_session RECORD;
    v_hash BYTEA;
    v_wallet RECORD;
    v_round RECORD;
    v_bet RECORD;
    v_code TEXT;
    v_refund BIGINT := 0;
    v_refund_redeemable BIGINT := 0;
    v_tombstone BOOLEAN := false;
    v_rec RECORD;
BEGIN
    replayed := false;
    SELECT s.*, h.hash, a.status AS stored_status, a.body AS stored_body, a.replayed AS stored_replayed
      INTO v_session
      FROM ledger.session_by_token(p_token_hash) s
     CROSS JOIN LATERAL (SELECT ledger.request_hash('rollback', s.user_id, NULL, p_round, NULL, p_bet, false) AS hash) h
      LEFT JOIN LATERAL ledger.stored_answer(s.provider_id, p_transaction_id, h.hash, p_invocation) a ON true;
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    IF v_session.stored_status IS NOT NULL THEN
        status := v_session.stored_status; body := v_session.stored_body; replayed := v_session.stored_replayed;
        RETURN;
    END IF;
    v_hash := v_session.hash;

    -- Accepted on an expired session and for a blocked player.
    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    IF p_bet = p_transaction_id THEN
        -- It names itself: a rollback transaction, not a bet (its row is written below).
        v_code := 'NOT_A_BET';
    ELSE
        -- The bet id's lock, then (a new snapshot) the bet: a debit with that id in flight (another
        -- wallet's: this wallet's are serialised with us) holds the lock until it commits.
        PERFORM ledger.lock_bet_id(v_session.provider_id, p_bet);
        SELECT t.kind, t.status, t.session_id, t.round_id, t.amount, t.redeemable_delta INTO v_bet
          FROM casino_transactions t
         WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_bet;
        IF NOT FOUND THEN
            -- Bet unknown. The round named, if it exists, must be ours and unsettled: else no
            -- tombstone is left. Otherwise this rollback's row is the tombstone.
            IF p_round IS NOT NULL THEN
                SELECT r.session_id, r.has_credit INTO v_round
                  FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
                IF FOUND AND v_round.session_id <> v_session.session_id THEN
                    v_code := 'ROUND_MISMATCH';
                ELSIF FOUND AND v_round.has_credit THEN
                    v_code := 'BET_ALREADY_SETTLED';
                END IF;
            END IF;
            v_tombstone := v_code IS NULL;
        END IF;
    END IF;

    IF v_code IS NULL AND NOT v_tombstone THEN
        IF v_bet.kind <> 'debit' THEN
            v_code := 'NOT_A_BET';
        ELSIF p_round IS NOT NULL AND p_round <> v_bet.round_id THEN
            v_code := 'ROUND_MISMATCH';
        ELSE
            -- The round checks apply to every bet named, accepted or rejected (§4). A rejected
            -- bet's round may have no row (the refused debit did not open it): then there is
            -- nothing to check and the rollback is a no-effect 200.
            SELECT r.session_id, r.has_credit INTO v_round
              FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = v_bet.round_id;
            IF FOUND AND v_round.session_id <> v_session.session_id THEN
                v_code := 'ROUND_MISMATCH';
            ELSIF FOUND AND v_round.has_credit THEN
                v_code := 'BET_ALREADY_SETTLED';
            ELSIF v_bet.status = 'accepted'
                  AND NOT EXISTS (SELECT 1 FROM casino_transactions t
                                   WHERE t.provider_id = v_session.provider_id AND t.bet_transaction_id = p_bet
                                     AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
                -- Refund once: a rollback that already refunded this bet makes this one a no-op.
                v_refund := v_bet.amount;
                v_refund_redeemable := -v_bet.redeemable_delta;
            END IF;
            -- A rejected bet, or one already rolled back: 200, nothing moves.
        END IF;
    END IF;

    SELECT * INTO v_rec FROM ledger.record(
        v_session.provider_id, p_transaction_id, 'rollback', v_hash, v_session.session_id,
        v_session.user_id, v_session.wallet_id, p_round, p_bet,
        CASE WHEN v_code IS NULL THEN v_refund ELSE 0 END, false, v_tombstone, p_invocation, v_code,
        CASE WHEN v_code IS NULL
             THEN jsonb_build_object('rolledBackAmount', v_refund, 'tombstone', v_tombstone)
             ELSE '{}'::JSONB END,
        v_refund, v_refund_redeemable, v_wallet.playable_balance + v_refund,
        v_wallet.redeemable_balance + v_refund_redeemable, v_session.currency);
    status := v_rec.status; body := v_rec.body; replayed := v_rec.replayed;
    -- Nothing else to write: a refund moved the wallet with the row (ledger.record); when another
    -- request held this transactionId, nothing of this one was written.
END $$;
