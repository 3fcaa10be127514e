-- Ledger v1, frozen: sql/casino/functions/*.sql as of commit 9f645a3 (before issue 14).
-- bench/experiments.py loads it into a throwaway bench database as the 'before' variant.
-- Not migrated, not linted; never loaded into a real database.
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
RETURNS BYTEA LANGUAGE sql IMMUTABLE AS $$
    -- The normalised fields of docs/protocol.md §5, not the raw body: key order, whitespace and
    -- unknown fields do not change the hash; the player is resolved from the token.
    SELECT sha256(convert_to(
        jsonb_build_array(p_endpoint, p_user, p_currency, p_round, p_amount, p_bet, p_closed)::text,
        'UTF8'))
$$;

CREATE FUNCTION ledger.error_body(p_code TEXT, p_extra JSONB DEFAULT '{}'::JSONB,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE AS $$
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
LANGUAGE sql STABLE AS $$
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
LANGUAGE plpgsql STABLE AS $$
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
LANGUAGE plpgsql AS $$
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
LANGUAGE plpgsql AS $$
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
LANGUAGE plpgsql AS $$
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
LANGUAGE plpgsql AS $$
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
RETURNS VOID LANGUAGE plpgsql AS $$
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
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger.drop_round_if_created(p_provider, p_round, p_created);
    SELECT * INTO status, body FROM ledger.reject(p_row, p_code, p_extra);
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.get_balance(p_token_hash BYTEA,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql STABLE AS $$
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
CREATE FUNCTION ledger.debit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_session RECORD;
    v_claim RECORD;
    v_round RECORD;
    v_wallet RECORD;
    v_from_redeemable BIGINT;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;

    SELECT * INTO v_claim FROM ledger.claim_transaction(
        v_session.provider_id, p_transaction_id, 'debit',
        ledger.request_hash('debit', v_session.user_id, p_currency, p_round, p_amount, NULL, false),
        v_session.session_id, v_session.user_id, v_session.wallet_id, p_round, NULL, p_amount, false, p_invocation);
    IF v_claim.row_id IS NULL THEN
        status := v_claim.status; body := v_claim.body; replayed := v_claim.replayed;
        RETURN;
    END IF;

    IF v_session.expired THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'SESSION_EXPIRED');
        RETURN;
    END IF;
    IF v_session.blocked THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'PLAYER_BLOCKED');
        RETURN;
    END IF;
    IF p_currency <> v_session.currency THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'CURRENCY_MISMATCH');
        RETURN;
    END IF;

    -- Claim the bet id; a rollback that came first left a tombstone claim.
    INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
    VALUES (v_session.provider_id, p_transaction_id, 'bet')
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'BET_ROLLED_BACK');
        RETURN;
    END IF;

    SELECT * INTO v_round FROM ledger.lock_round(v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id, true);
    IF v_round.session_id <> v_session.session_id THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_MISMATCH');
        RETURN;
    END IF;
    IF v_round.closed THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_CLOSED');
        RETURN;
    END IF;
    IF p_amount < v_session.min_bet OR p_amount > v_session.max_bet THEN
        SELECT * INTO status, body
          FROM ledger.reject_dropping_round(v_claim.row_id, 'BET_LIMIT_EXCEEDED', v_session.provider_id, p_round, v_round.created);
        RETURN;
    END IF;

    -- NO KEY UPDATE, not UPDATE: the rows this transaction inserted hold FOR KEY SHARE on the
    -- wallet (foreign keys), and so do a concurrent debit's; upgrading both to FOR UPDATE
    -- would deadlock. NO KEY UPDATE conflicts with neither, yet serialises the balance.
    SELECT playable_balance, redeemable_balance INTO v_wallet
      FROM casino_wallets WHERE id = v_session.wallet_id FOR NO KEY UPDATE;
    IF v_wallet.playable_balance < p_amount THEN
        SELECT * INTO status, body
          FROM ledger.reject_dropping_round(v_claim.row_id, 'INSUFFICIENT_FUNDS', v_session.provider_id, p_round, v_round.created, jsonb_build_object('balance', v_wallet.playable_balance));
        RETURN;
    END IF;

    -- Bonus-type money (playable - redeemable) is spent first, then redeemable.
    v_from_redeemable := GREATEST(0, p_amount - (v_wallet.playable_balance - v_wallet.redeemable_balance));
    UPDATE casino_wallets
       SET playable_balance = playable_balance - p_amount,
           redeemable_balance = redeemable_balance - v_from_redeemable,
           updated_at = now()
     WHERE id = v_session.wallet_id
    RETURNING playable_balance, redeemable_balance INTO v_wallet;

    SELECT * INTO status, body
      FROM ledger.accept(v_claim.row_id, p_transaction_id, -p_amount, -v_from_redeemable,
                         v_wallet.playable_balance, v_wallet.redeemable_balance, v_session.currency);
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_bet TEXT, p_closed BOOLEAN, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_session RECORD;
    v_claim RECORD;
    v_round RECORD;
    v_bet RECORD;
    v_wallet RECORD;
    v_code TEXT;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;

    SELECT * INTO v_claim FROM ledger.claim_transaction(
        v_session.provider_id, p_transaction_id, 'credit',
        ledger.request_hash('credit', v_session.user_id, p_currency, p_round, p_amount, p_bet, p_closed),
        v_session.session_id, v_session.user_id, v_session.wallet_id, p_round, p_bet, p_amount, p_closed, p_invocation);
    IF v_claim.row_id IS NULL THEN
        status := v_claim.status; body := v_claim.body; replayed := v_claim.replayed;
        RETURN;
    END IF;

    -- Money owed to the player is always paid: no expiry or block check here.
    IF p_currency <> v_session.currency THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'CURRENCY_MISMATCH');
        RETURN;
    END IF;

    SELECT * INTO v_round FROM ledger.lock_round(v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id, true);
    IF v_round.session_id <> v_session.session_id THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_MISMATCH');
        RETURN;
    END IF;
    IF v_round.closed THEN
        SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_CLOSED');
        RETURN;
    END IF;

    IF p_bet IS NOT NULL THEN
        SELECT t.status, t.session_id, t.round_id, t.error_code INTO v_bet
          FROM casino_transactions t
         WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_bet AND t.kind = 'debit';
        IF EXISTS (SELECT 1 FROM casino_bet_claims
                    WHERE provider_id = v_session.provider_id AND transaction_id = p_bet
                      AND claimed_by = 'tombstone') THEN
            v_code := 'BET_ROLLED_BACK';
        ELSIF v_bet.status IS DISTINCT FROM 'accepted'
              OR v_bet.session_id <> v_session.session_id OR v_bet.round_id <> p_round THEN
            v_code := 'BET_NOT_FOUND';
        ELSIF EXISTS (SELECT 1 FROM casino_transactions t
                       WHERE t.provider_id = v_session.provider_id AND t.bet_transaction_id = p_bet
                         AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
            v_code := 'BET_ROLLED_BACK';
        END IF;
        IF v_code IS NOT NULL THEN
            SELECT * INTO status, body
              FROM ledger.reject_dropping_round(v_claim.row_id, v_code, v_session.provider_id, p_round, v_round.created);
            RETURN;
        END IF;
    END IF;

    UPDATE casino_rounds SET has_credit = true, closed = p_closed
     WHERE provider_id = v_session.provider_id AND round_id = p_round;
    UPDATE casino_wallets
       SET playable_balance = playable_balance + p_amount,
           redeemable_balance = redeemable_balance + p_amount,
           updated_at = now()
     WHERE id = v_session.wallet_id
    RETURNING playable_balance, redeemable_balance INTO v_wallet;

    SELECT * INTO status, body
      FROM ledger.accept(v_claim.row_id, p_transaction_id, p_amount, p_amount,
                         v_wallet.playable_balance, v_wallet.redeemable_balance, v_session.currency);
END $$;
-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.rollback(
    p_token_hash BYTEA, p_transaction_id TEXT, p_bet TEXT, p_round TEXT, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_session RECORD;
    v_claim RECORD;
    v_round RECORD;
    v_bet RECORD;
    v_wallet RECORD;
    v_refund BIGINT := 0;
    v_refund_redeemable BIGINT := 0;
    v_tombstone BOOLEAN := false;
    v_attempt INT := 0;
    v_new_claim BOOLEAN := false;
BEGIN
    replayed := false;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;

    SELECT * INTO v_claim FROM ledger.claim_transaction(
        v_session.provider_id, p_transaction_id, 'rollback',
        ledger.request_hash('rollback', v_session.user_id, NULL, p_round, NULL, p_bet, false),
        v_session.session_id, v_session.user_id, v_session.wallet_id, p_round, p_bet, 0, false, p_invocation);
    IF v_claim.row_id IS NULL THEN
        status := v_claim.status; body := v_claim.body; replayed := v_claim.replayed;
        RETURN;
    END IF;

    -- Accepted on an expired session and for a blocked player.
    LOOP
        v_attempt := v_attempt + 1;
        SELECT t.kind, t.status, t.session_id, t.round_id, t.amount, t.redeemable_delta INTO v_bet
          FROM casino_transactions t
         WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_bet;
        EXIT WHEN FOUND;
        -- Bet unknown: leave a tombstone. If a debit with that id is in flight we wait for
        -- it here (claim before round, the global lock order); when it commits, its claim
        -- exists and we look the bet up again.
        INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
        VALUES (v_session.provider_id, p_bet, 'tombstone')
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            v_new_claim := true;
            v_tombstone := true;
            EXIT;
        END IF;
        IF EXISTS (SELECT 1 FROM casino_bet_claims
                    WHERE provider_id = v_session.provider_id AND transaction_id = p_bet
                      AND claimed_by = 'tombstone') THEN
            v_tombstone := true;
            EXIT;
        END IF;
        IF v_attempt >= 2 THEN
            RAISE EXCEPTION 'bet claim without its ledger row';
        END IF;
    END LOOP;

    IF v_tombstone AND p_round IS NOT NULL THEN
        -- The round named, if it exists, must be ours and unsettled.
        SELECT * INTO v_round FROM ledger.lock_round(v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id, false);
        IF v_round.round_found AND (v_round.session_id <> v_session.session_id OR v_round.has_credit) THEN
            IF v_new_claim THEN
                DELETE FROM casino_bet_claims WHERE provider_id = v_session.provider_id AND transaction_id = p_bet;
            END IF;
            SELECT * INTO status, body
              FROM ledger.reject(v_claim.row_id, CASE WHEN v_round.session_id <> v_session.session_id
                                                THEN 'ROUND_MISMATCH' ELSE 'BET_ALREADY_SETTLED' END);
            RETURN;
        END IF;
    END IF;

    IF NOT v_tombstone THEN
        IF v_bet.kind <> 'debit' THEN
            SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'NOT_A_BET');
            RETURN;
        END IF;
        IF p_round IS NOT NULL AND p_round <> v_bet.round_id THEN
            SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_MISMATCH');
            RETURN;
        END IF;
        -- The round checks apply to every bet named, accepted or rejected (§4). A rejected
        -- bet's round may have no row (the refused debit did not keep the round it would have
        -- opened): then there is nothing to check and the rollback is a no-effect 200.
        SELECT * INTO v_round FROM ledger.lock_round(v_session.provider_id, v_bet.round_id, v_session.session_id, v_session.wallet_id, false);
        IF v_round.round_found AND v_round.session_id <> v_session.session_id THEN
            SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'ROUND_MISMATCH');
            RETURN;
        END IF;
        IF v_round.round_found AND v_round.has_credit THEN
            SELECT * INTO status, body FROM ledger.reject(v_claim.row_id, 'BET_ALREADY_SETTLED');
            RETURN;
        END IF;
        IF v_bet.status = 'accepted' THEN
            -- Refund once: a rollback that already refunded this bet makes this one a no-op.
            IF NOT EXISTS (SELECT 1 FROM casino_transactions t
                            WHERE t.provider_id = v_session.provider_id AND t.bet_transaction_id = p_bet
                              AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
                v_refund := v_bet.amount;
                v_refund_redeemable := -v_bet.redeemable_delta;
            END IF;
        END IF;
        -- A rejected bet, or one already rolled back: 200, nothing moves.
    END IF;

    IF v_refund > 0 THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance + v_refund,
               redeemable_balance = redeemable_balance + v_refund_redeemable,
               updated_at = now()
         WHERE id = v_session.wallet_id
        RETURNING playable_balance, redeemable_balance INTO v_wallet;
    ELSE
        SELECT playable_balance, redeemable_balance INTO v_wallet FROM casino_wallets WHERE id = v_session.wallet_id;
    END IF;
    UPDATE casino_transactions SET amount = v_refund, tombstone = v_tombstone WHERE id = v_claim.row_id;

    SELECT * INTO status, body
      FROM ledger.accept(v_claim.row_id, p_transaction_id, v_refund, v_refund_redeemable,
                         v_wallet.playable_balance, v_wallet.redeemable_balance, v_session.currency,
                         jsonb_build_object('rolledBackAmount', v_refund, 'tombstone', v_tombstone));
END $$;
