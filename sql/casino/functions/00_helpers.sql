-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The casino ledger's helpers, used by the one function per provider callback in the
-- files beside this one.
--
-- Why the rules live in PL/pgSQL: each callback is then exactly one statement, one database
-- round trip and one transaction. The idempotency row, the bet claim, the round lock, the
-- wallet update and the stored response commit together or not at all, and a concurrent
-- duplicate waits on the unique index instead of racing in Python.
-- seamless/casino/ledger.py is the typed Python face of these functions.
--
-- Lock order, the same in every function (so no deadlock is possible):
--   own transactionId row -> bet claim -> round row -> wallet row.
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

-- The idempotency gate. Inserts the transactionId row (status pending) and returns its id;
-- a concurrent duplicate waits here until the first commits. Returns NULL when the id is
-- already taken, with the stored response (same hash) or a conflict (different hash).
-- replayed is true only when another invocation wrote the row: the same invocation finding
-- its own row (db.run_idempotent re-ran it after a lost commit acknowledgement) is sending its
-- first answer. A caller that names no invocation (NULL) gets every stored answer as a replay.
CREATE FUNCTION ledger.claim_transaction(
    p_provider BIGINT, p_transaction_id TEXT, p_kind TEXT, p_hash BYTEA,
    p_session UUID, p_user UUID, p_wallet BIGINT, p_round TEXT, p_bet TEXT,
    p_amount BIGINT, p_closed BOOLEAN, p_invocation UUID,
    OUT row_id BIGINT, OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_existing RECORD;
BEGIN
    replayed := false;
    INSERT INTO casino_transactions (provider_id, transaction_id, kind, status, request_hash,
                                     session_id, user_id, wallet_id, round_id,
                                     bet_transaction_id, amount, round_closed, invocation_id)
    VALUES (p_provider, p_transaction_id, p_kind, 'pending', p_hash,
            p_session, p_user, p_wallet, p_round, p_bet, p_amount, p_closed, p_invocation)
    ON CONFLICT (provider_id, transaction_id) DO NOTHING
    RETURNING id INTO row_id;
    IF row_id IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT t.request_hash, t.response_status, t.response_body, t.invocation_id INTO v_existing
      FROM casino_transactions t
     WHERE t.provider_id = p_provider AND t.transaction_id = p_transaction_id;
    IF v_existing.request_hash = p_hash THEN
        status := v_existing.response_status;
        body := v_existing.response_body;
        replayed := p_invocation IS NULL OR v_existing.invocation_id IS DISTINCT FROM p_invocation;
    ELSE
        SELECT e.status, e.body INTO status, body FROM ledger.error_body('TRANSACTION_ID_CONFLICT') e;
    END IF;
END $$;

-- Stores a business rejection as the final answer for the transactionId.
CREATE FUNCTION ledger.reject(p_row BIGINT, p_code TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    SELECT * INTO status, body FROM ledger.error_body(p_code, p_extra);
    UPDATE casino_transactions
       SET status = 'rejected', error_code = p_code, response_status = status, response_body = body
     WHERE id = p_row;
END $$;

-- Stores an accepted movement: the ledger row gets its deltas, balances after and the
-- 200 body. p_extra adds endpoint-specific fields (rollback's rolledBackAmount, tombstone).
CREATE FUNCTION ledger.accept(
    p_row BIGINT, p_transaction_id TEXT, p_playable_delta BIGINT, p_redeemable_delta BIGINT,
    p_balance BIGINT, p_redeemable BIGINT, p_currency TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    status := 200;
    body := (jsonb_build_object(
        'transactionId', p_transaction_id,
        'casinoTransactionId', p_row::text,
        'balance', p_balance,
        'redeemableBalance', p_redeemable,
        'currency', p_currency) || p_extra)::text;
    UPDATE casino_transactions
       SET status = 'accepted', playable_delta = p_playable_delta,
           redeemable_delta = p_redeemable_delta, balance_after = p_balance,
           redeemable_after = p_redeemable, response_status = status, response_body = body
     WHERE id = p_row;
END $$;

-- Finds the round and locks it; creates it (owned by this session) when p_create is set.
-- created tells the caller it must delete the row again if the request is then rejected.
CREATE FUNCTION ledger.lock_round(
    p_provider BIGINT, p_round TEXT, p_session UUID, p_wallet BIGINT, p_create BOOLEAN,
    OUT round_found BOOLEAN, OUT created BOOLEAN, OUT session_id UUID, OUT has_credit BOOLEAN,
    OUT closed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    created := false;
    SELECT r.session_id, r.has_credit, r.closed INTO session_id, has_credit, closed
      FROM casino_rounds r WHERE r.provider_id = p_provider AND r.round_id = p_round FOR UPDATE;
    round_found := session_id IS NOT NULL;
    IF round_found OR NOT p_create THEN
        RETURN;
    END IF;
    INSERT INTO casino_rounds (provider_id, round_id, session_id, wallet_id)
    VALUES (p_provider, p_round, p_session, p_wallet)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        created := true;
        round_found := true;
        session_id := p_session;
        has_credit := false;
        closed := false;
        RETURN;
    END IF;
    -- another transaction created it and committed while we waited
    SELECT r.session_id, r.has_credit, r.closed INTO session_id, has_credit, closed
      FROM casino_rounds r WHERE r.provider_id = p_provider AND r.round_id = p_round FOR UPDATE;
    round_found := true;
END $$;

CREATE FUNCTION ledger.drop_round_if_created(p_provider BIGINT, p_round TEXT, p_created BOOLEAN)
RETURNS VOID LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_created THEN
        DELETE FROM casino_rounds WHERE provider_id = p_provider AND round_id = p_round;
    END IF;
END $$;

-- A rejection by a rule checked after the round row was locked: the round this very request
-- created (its first debit or credit, now refused) is removed again, so a refused request
-- never owns a round.
CREATE FUNCTION ledger.reject_dropping_round(
    p_row BIGINT, p_code TEXT, p_provider BIGINT, p_round TEXT, p_created BOOLEAN,
    p_extra JSONB DEFAULT '{}'::JSONB, OUT status INT, OUT body TEXT)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM ledger.drop_round_if_created(p_provider, p_round, p_created);
    SELECT * INTO status, body FROM ledger.reject(p_row, p_code, p_extra);
END $$;
