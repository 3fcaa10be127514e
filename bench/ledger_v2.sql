-- Ledger v2, frozen: sql/casino/functions/*.sql as of commit 9ac5ca4 (issue 14, before ledger v3).
-- bench/experiments.py loads it into a throwaway bench database as the v2 variants' functions.
-- Not migrated, not linted; never loaded into a real database.
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The casino ledger's helpers, used by the one function per provider callback in the
-- files beside this one.
--
-- Why the rules live in PL/pgSQL: each callback is then exactly one statement, one database
-- round trip and one transaction. The ledger row, the bet claim, the round, the wallet update
-- and the stored response commit together or not at all, and a concurrent duplicate waits on
-- the unique index instead of racing in Python.
-- seamless/casino/ledger.py is the typed Python face of these functions.
--
-- The write path (ledger v2, issue 14), the same in debit, credit and rollback:
--   1. the session; the stored answer for the transactionId, if any (a replay takes no lock);
--   2. the wallet row, FOR NO KEY UPDATE: every callback of a wallet is serialised here, first,
--      so the rows the callback then reads (its round, its bet) cannot change under it - every
--      writer of a round or a refund is a callback of the round owner's session, whose wallet
--      this is - and no foreign-key KEY SHARE on the wallet creates a MultiXact;
--   3. the checks, in §4's order, reading the round and the bet without locking them; the bet
--      claim (debit, tombstone) and a new round are inserted where the decision needs them;
--   4. the ledger row, written ONCE with its final outcome and response (ledger.record):
--      INSERT ... ON CONFLICT DO NOTHING on the unique (provider_id, transaction_id) index, the
--      idempotency gate. A concurrent request with the same transactionId that got there first
--      makes this one wait for its commit; then its stored answer is sent instead, and the bet
--      claim or round this request inserted is deleted again (nothing else was written yet);
--   5. the round's credit flags and the wallet update.
--
-- Lock order, the same in every function (so no deadlock is possible): wallet row -> bet claim
-- -> round row -> own transactionId row. A callback takes at most one lock of each kind.
--
-- Every callback function returns (status, body, replayed): the HTTP status, the exact
-- response body text, and whether it is a replay of a stored response - one that another
-- invocation of the handler wrote (p_invocation, a random id per handler invocation).

CREATE SCHEMA ledger;

CREATE FUNCTION ledger.request_hash(
    p_endpoint TEXT, p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT,
    p_bet TEXT, p_closed BOOLEAN)
RETURNS BYTEA LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    -- The normalised fields of docs/protocol.md §5, not the raw body: key order, whitespace and
    -- unknown fields do not change the hash; the player is resolved from the token.
    SELECT sha256(convert_to(
        jsonb_build_array(p_endpoint, p_user, p_currency, p_round, p_amount, p_bet, p_closed)::text,
        'UTF8'))
$$;

CREATE FUNCTION ledger.error_body(p_code TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    SELECT c.http_status,
           (jsonb_build_object('error', jsonb_build_object('code', c.code, 'message', c.message))
            || p_extra)::text
      INTO status, body
      FROM casino_error_catalog c WHERE c.code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'error code % is not in casino_error_catalog (run migrate)', p_code;
    END IF;
END $$;

-- The session behind a token, whatever its expiry; only active (launched) sessions count.
CREATE FUNCTION ledger.session_by_token(p_token_hash BYTEA)
RETURNS TABLE (session_id UUID, user_id UUID, wallet_id BIGINT, provider_id BIGINT,
               currency TEXT, expired BOOLEAN, blocked BOOLEAN, min_bet BIGINT, max_bet BIGINT)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT gs.id, gs.user_id, gs.wallet_id, gs.provider_id, gs.currency::text,
           gs.expires_at <= now(), u.status = 'blocked', g.min_bet, g.max_bet
      FROM casino_game_sessions gs
      JOIN casino_users u ON u.id = gs.user_id
      JOIN casino_games g ON g.id = gs.game_id
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
      FROM casino_transactions t
     WHERE t.provider_id = ANY(ARRAY(SELECT p.id FROM casino_game_providers p))
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
-- conflict for another; status NULL when nothing is stored. replayed is true only when another
-- invocation wrote the row: the same invocation finding its own row (db.run_idempotent re-ran
-- it after a lost commit acknowledgement) is sending its first answer. A caller that names no
-- invocation (NULL) gets every stored answer as a replay.
CREATE FUNCTION ledger.stored_answer(
    p_provider BIGINT, p_transaction_id TEXT, p_hash BYTEA, p_invocation UUID,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_existing RECORD;
BEGIN
    replayed := false;
    SELECT t.request_hash, t.response_status, t.response_body, t.invocation_id INTO v_existing
      FROM casino_transactions t
     WHERE t.provider_id = p_provider AND t.transaction_id = p_transaction_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_existing.request_hash = p_hash THEN
        status := v_existing.response_status;
        body := v_existing.response_body;
        replayed := p_invocation IS NULL OR v_existing.invocation_id IS DISTINCT FROM p_invocation;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('TRANSACTION_ID_CONFLICT') e;
    END IF;
END $$;

-- Writes the transactionId's ledger row once, with its final outcome: accepted (p_code NULL: the
-- deltas, the balances after and the 200 body, p_extra adding endpoint-specific fields) or a
-- stored business rejection (p_code, p_extra adding e.g. the 402's balance; nothing moves).
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
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    v_id BIGINT := nextval('casino_transactions_id_seq'::REGCLASS);
BEGIN
    replayed := false;
    IF p_code IS NULL THEN
        status := 200;
        body := (jsonb_build_object(
            'transactionId', p_transaction_id,
            'casinoTransactionId', v_id::text,
            'balance', p_balance,
            'redeemableBalance', p_redeemable,
            'currency', p_currency) || p_extra)::text;
        INSERT INTO casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                         session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                         round_closed, tombstone, amount, playable_delta, redeemable_delta,
                                         balance_after, redeemable_after, response_status, response_body,
                                         invocation_id)
        OVERRIDING SYSTEM VALUE
        VALUES (v_id, p_provider, p_transaction_id, p_kind, 'accepted', p_hash,
                p_session, p_user, p_wallet, p_round, p_bet,
                p_closed, p_tombstone, p_amount, p_playable_delta, p_redeemable_delta,
                p_balance, p_redeemable, status, body, p_invocation)
        ON CONFLICT (provider_id, transaction_id) DO NOTHING;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body(p_code, p_extra) e;
        INSERT INTO casino_transactions (id, provider_id, transaction_id, kind, status, request_hash,
                                         session_id, user_id, wallet_id, round_id, bet_transaction_id,
                                         round_closed, amount, error_code, response_status, response_body,
                                         invocation_id)
        OVERRIDING SYSTEM VALUE
        VALUES (v_id, p_provider, p_transaction_id, p_kind, 'rejected', p_hash,
                p_session, p_user, p_wallet, p_round, p_bet,
                p_closed, p_amount, p_code, status, body, p_invocation)
        ON CONFLICT (provider_id, transaction_id) DO NOTHING;
    END IF;
    written := FOUND;
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
-- The write path and lock order: 00_helpers.sql. A debit writes its bet claim, a new round, its
-- ledger row (once) and the wallet; a refused one its ledger row and, past the currency check,
-- its bet claim (so a late rollback of it finds the bet, never leaves a tombstone).
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
    v_claimed BOOLEAN := false;
    v_created BOOLEAN := false;
    v_claimed_by TEXT;
    v_code TEXT;
    v_extra JSONB := '{}'::JSONB;
    v_from_redeemable BIGINT;
    v_rec RECORD;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    v_hash := ledger.request_hash('debit', v_session.user_id, p_currency, p_round, p_amount, NULL, false);
    SELECT * INTO status, body, replayed
      FROM ledger.stored_answer(v_session.provider_id, p_transaction_id, v_hash, p_invocation);
    IF status IS NOT NULL THEN
        RETURN;
    END IF;

    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    IF v_session.expired THEN
        v_code := 'SESSION_EXPIRED';
    ELSIF v_session.blocked THEN
        v_code := 'PLAYER_BLOCKED';
    ELSIF p_currency <> v_session.currency THEN
        v_code := 'CURRENCY_MISMATCH';
    ELSE
        -- Claim the bet id; a rollback that came first left a tombstone claim.
        INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
        VALUES (v_session.provider_id, p_transaction_id, 'bet')
        ON CONFLICT DO NOTHING;
        v_claimed := FOUND;
        IF NOT v_claimed THEN
            SELECT c.claimed_by INTO v_claimed_by FROM casino_bet_claims c
             WHERE c.provider_id = v_session.provider_id AND c.transaction_id = p_transaction_id;
            IF v_claimed_by = 'bet' THEN
                -- A debit with this transactionId committed while this one waited: its answer.
                SELECT * INTO status, body, replayed
                  FROM ledger.stored_answer(v_session.provider_id, p_transaction_id, v_hash, p_invocation);
                IF status IS NULL THEN
                    RAISE EXCEPTION 'bet claim without its ledger row';
                END IF;
                RETURN;
            END IF;
            v_code := 'BET_ROLLED_BACK';
        END IF;
    END IF;

    IF v_code IS NULL THEN
        SELECT r.session_id, r.closed INTO v_round
          FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
        v_round_found := FOUND;
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
    IF NOT v_rec.written THEN
        -- Another request holds this transactionId: undo this one's inserts.
        IF v_claimed THEN
            DELETE FROM casino_bet_claims
             WHERE provider_id = v_session.provider_id AND transaction_id = p_transaction_id;
        END IF;
        IF v_created THEN
            DELETE FROM casino_rounds WHERE provider_id = v_session.provider_id AND round_id = p_round;
        END IF;
        RETURN;
    END IF;
    IF v_code IS NULL THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance - p_amount,
               redeemable_balance = redeemable_balance - v_from_redeemable,
               updated_at = now()
         WHERE id = v_session.wallet_id;
    END IF;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A credit writes its ledger row (once), its
-- round (a new one with its flags, or the flags of an existing one when they change) and, for
-- more than 0, the wallet; a refused one only its ledger row.
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
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    v_hash := ledger.request_hash('credit', v_session.user_id, p_currency, p_round, p_amount, p_bet, p_closed);
    SELECT * INTO status, body, replayed
      FROM ledger.stored_answer(v_session.provider_id, p_transaction_id, v_hash, p_invocation);
    IF status IS NOT NULL THEN
        RETURN;
    END IF;

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
            IF EXISTS (SELECT 1 FROM casino_bet_claims c
                        WHERE c.provider_id = v_session.provider_id AND c.transaction_id = p_bet
                          AND c.claimed_by = 'tombstone') THEN
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
    IF v_round_found AND (NOT v_round.has_credit OR p_closed) THEN
        UPDATE casino_rounds SET has_credit = true, closed = p_closed
         WHERE provider_id = v_session.provider_id AND round_id = p_round;
    END IF;
    IF p_amount > 0 THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance + p_amount,
               redeemable_balance = redeemable_balance + p_amount,
               updated_at = now()
         WHERE id = v_session.wallet_id;
    END IF;
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A rollback writes its ledger row (once), the
-- wallet for a refund, and a tombstone claim for an unknown bet; a refused one only its row.
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
    v_claimed BOOLEAN := false;
    v_claimed_by TEXT;
    v_attempt INT := 0;
    v_rec RECORD;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    v_hash := ledger.request_hash('rollback', v_session.user_id, NULL, p_round, NULL, p_bet, false);
    SELECT * INTO status, body, replayed
      FROM ledger.stored_answer(v_session.provider_id, p_transaction_id, v_hash, p_invocation);
    IF status IS NOT NULL THEN
        RETURN;
    END IF;

    -- Accepted on an expired session and for a blocked player.
    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    LOOP
        v_attempt := v_attempt + 1;
        IF p_bet = p_transaction_id THEN
            -- It names itself: a rollback transaction, not a bet (its row is written below).
            v_code := 'NOT_A_BET';
            EXIT;
        END IF;
        SELECT t.kind, t.status, t.session_id, t.round_id, t.amount, t.redeemable_delta INTO v_bet
          FROM casino_transactions t
         WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_bet;
        EXIT WHEN FOUND;
        -- Bet unknown. The round named, if it exists, must be ours and unsettled: else no
        -- tombstone is left.
        IF p_round IS NOT NULL THEN
            SELECT r.session_id, r.has_credit INTO v_round
              FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
            IF FOUND AND v_round.session_id <> v_session.session_id THEN
                v_code := 'ROUND_MISMATCH';
                EXIT;
            ELSIF FOUND AND v_round.has_credit THEN
                v_code := 'BET_ALREADY_SETTLED';
                EXIT;
            END IF;
        END IF;
        -- Leave a tombstone. If a debit with that id is in flight (another wallet's: this
        -- wallet's are serialised with us) we wait for it here; when it commits, its claim
        -- exists and we look the bet up again.
        INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
        VALUES (v_session.provider_id, p_bet, 'tombstone')
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            v_claimed := true;
            v_tombstone := true;
            EXIT;
        END IF;
        SELECT c.claimed_by INTO v_claimed_by FROM casino_bet_claims c
         WHERE c.provider_id = v_session.provider_id AND c.transaction_id = p_bet;
        IF v_claimed_by = 'tombstone' THEN
            v_tombstone := true;
            EXIT;
        END IF;
        IF v_attempt >= 2 THEN
            RAISE EXCEPTION 'bet claim without its ledger row';
        END IF;
    END LOOP;

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
    IF NOT v_rec.written THEN
        -- Another request holds this transactionId: undo this one's tombstone.
        IF v_claimed THEN
            DELETE FROM casino_bet_claims WHERE provider_id = v_session.provider_id AND transaction_id = p_bet;
        END IF;
        RETURN;
    END IF;
    IF v_refund > 0 THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance + v_refund,
               redeemable_balance = redeemable_balance + v_refund_redeemable,
               updated_at = now()
         WHERE id = v_session.wallet_id;
    END IF;
END $$;
