-- Re-applied by every `migrate` (CREATE OR REPLACE); a change of a function's result
-- type needs a DROP FUNCTION here first.
-- The casino ledger: one PL/pgSQL function per provider callback.
--
-- Why the rules live here: each callback is then exactly one statement, one database
-- round trip and one transaction. The idempotency row, the bet claim, the round lock,
-- the wallet update and the stored response commit together or not at all, and a
-- concurrent duplicate waits on the unique index instead of racing in Python.
-- wallet_common/ledger.py is the typed Python face of these functions.
--
-- Lock order, the same in every function (so no deadlock is possible):
--   own transactionId row -> bet claim -> round row -> wallet row.
--
-- Every function returns (status, body, replayed): the HTTP status, the exact response
-- body text, and whether it is a replay of a stored response.

CREATE OR REPLACE FUNCTION casino_request_hash(
    p_endpoint TEXT, p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT,
    p_bet TEXT, p_closed BOOLEAN)
RETURNS BYTEA LANGUAGE sql IMMUTABLE AS $$
    -- The normalised fields of PROTOCOL §5, not the raw body: key order, whitespace and
    -- unknown fields do not change the hash; the player is resolved from the token.
    SELECT sha256(convert_to(
        jsonb_build_array(p_endpoint, p_user, p_currency, p_round, p_amount, p_bet, p_closed)::text,
        'UTF8'))
$$;

CREATE OR REPLACE FUNCTION casino_error_body(p_code TEXT, p_extra JSONB DEFAULT '{}'::jsonb,
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
CREATE OR REPLACE FUNCTION casino_session_by_token(p_token_hash BYTEA)
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

-- Unknown token: the request cannot be the same as any stored one (its player cannot be
-- resolved), so a known transactionId is a conflict; otherwise SESSION_NOT_FOUND.
CREATE OR REPLACE FUNCTION casino_unknown_session(p_transaction_id TEXT, OUT status INT, OUT body TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_transaction_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM casino_transactions
         WHERE transaction_id = p_transaction_id AND provider_id IS NOT NULL) THEN
        SELECT e.status, e.body INTO status, body FROM casino_error_body('TRANSACTION_ID_CONFLICT') e;
    ELSE
        SELECT e.status, e.body INTO status, body FROM casino_error_body('SESSION_NOT_FOUND') e;
    END IF;
END $$;

-- The idempotency gate. Inserts the transactionId row (status pending) and returns its id;
-- a concurrent duplicate waits here until the first commits. Returns NULL when the id is
-- already taken, with the stored response (same hash) or a conflict (different hash).
CREATE OR REPLACE FUNCTION casino_claim_transaction(
    p_provider BIGINT, p_transaction_id TEXT, p_kind TEXT, p_hash BYTEA,
    p_session UUID, p_user UUID, p_wallet BIGINT, p_round TEXT, p_bet TEXT,
    p_amount BIGINT, p_closed BOOLEAN,
    OUT row_id BIGINT, OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_existing RECORD;
BEGIN
    replayed := false;
    INSERT INTO casino_transactions (provider_id, transaction_id, kind, status, request_hash,
                                     session_id, user_id, wallet_id, round_id,
                                     bet_transaction_id, amount, round_closed)
    VALUES (p_provider, p_transaction_id, p_kind, 'pending', p_hash,
            p_session, p_user, p_wallet, p_round, p_bet, p_amount, p_closed)
    ON CONFLICT (provider_id, transaction_id) DO NOTHING
    RETURNING id INTO row_id;
    IF row_id IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT t.request_hash, t.response_status, t.response_body INTO v_existing
      FROM casino_transactions t
     WHERE t.provider_id = p_provider AND t.transaction_id = p_transaction_id;
    IF v_existing.request_hash = p_hash THEN
        status := v_existing.response_status;
        body := v_existing.response_body;
        replayed := true;
    ELSE
        SELECT e.status, e.body INTO status, body FROM casino_error_body('TRANSACTION_ID_CONFLICT') e;
    END IF;
END $$;

-- Stores a business rejection as the final answer for the transactionId.
CREATE OR REPLACE FUNCTION casino_reject(p_row BIGINT, p_code TEXT, p_extra JSONB DEFAULT '{}'::jsonb,
    OUT status INT, OUT body TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
BEGIN
    SELECT e.status, e.body INTO status, body FROM casino_error_body(p_code, p_extra) e;
    UPDATE casino_transactions
       SET status = 'rejected', error_code = p_code, response_status = status, response_body = body
     WHERE id = p_row;
END $$;

-- Stores an accepted movement: the ledger row gets its deltas, balances after and the
-- 200 body. p_extra adds endpoint-specific fields (rollback's rolledBackAmount, tombstone).
CREATE OR REPLACE FUNCTION casino_accept(
    p_row BIGINT, p_transaction_id TEXT, p_playable_delta BIGINT, p_redeemable_delta BIGINT,
    p_balance BIGINT, p_redeemable BIGINT, p_currency TEXT, p_extra JSONB DEFAULT '{}'::jsonb,
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

-- Its OUT column `found` was renamed round_found (it collided with PL/pgSQL's FOUND and was
-- never set): a database migrated before that needs the old function dropped once.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'casino_lock_round' AND 'found' = ANY (proargnames)) THEN
        DROP FUNCTION casino_lock_round(BIGINT, TEXT, UUID, BIGINT, BOOLEAN);
    END IF;
END $$;

-- Finds the round and locks it; creates it (owned by this session) when p_create is set.
-- created tells the caller it must delete the row again if the request is then rejected.
CREATE OR REPLACE FUNCTION casino_lock_round(
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

CREATE OR REPLACE FUNCTION casino_drop_round(p_provider BIGINT, p_round TEXT, p_created BOOLEAN)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF p_created THEN
        DELETE FROM casino_rounds WHERE provider_id = p_provider AND round_id = p_round;
    END IF;
END $$;

-- ---------------------------------------------------------------- getBalance

CREATE OR REPLACE FUNCTION casino_get_balance(p_token_hash BYTEA,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s RECORD;
    w RECORD;
BEGIN
    replayed := false;
    SELECT * INTO s FROM casino_session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT e.status, e.body INTO status, body FROM casino_unknown_session(NULL) e;
        RETURN;
    END IF;
    IF s.expired THEN
        SELECT e.status, e.body INTO status, body FROM casino_error_body('SESSION_EXPIRED') e;
        RETURN;
    END IF;
    SELECT playable_balance, redeemable_balance INTO w FROM casino_wallets WHERE id = s.wallet_id;
    status := 200;
    body := jsonb_build_object('balance', w.playable_balance,
                               'redeemableBalance', w.redeemable_balance,
                               'currency', s.currency)::text;
END $$;

-- ---------------------------------------------------------------- debit

CREATE OR REPLACE FUNCTION casino_debit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    s RECORD;
    c RECORD;
    r RECORD;
    w RECORD;
    v_from_redeemable BIGINT;
BEGIN
    replayed := false;
    SELECT * INTO s FROM casino_session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT e.status, e.body INTO status, body FROM casino_unknown_session(p_transaction_id) e;
        RETURN;
    END IF;

    SELECT * INTO c FROM casino_claim_transaction(
        s.provider_id, p_transaction_id, 'debit',
        casino_request_hash('debit', s.user_id, p_currency, p_round, p_amount, NULL, false),
        s.session_id, s.user_id, s.wallet_id, p_round, NULL, p_amount, false);
    IF c.row_id IS NULL THEN
        status := c.status; body := c.body; replayed := c.replayed;
        RETURN;
    END IF;

    IF s.expired THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'SESSION_EXPIRED') e;
        RETURN;
    END IF;
    IF s.blocked THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'PLAYER_BLOCKED') e;
        RETURN;
    END IF;
    IF p_currency <> s.currency THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'CURRENCY_MISMATCH') e;
        RETURN;
    END IF;

    -- Claim the bet id; a rollback that came first left a tombstone claim.
    INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
    VALUES (s.provider_id, p_transaction_id, 'bet')
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'BET_ROLLED_BACK') e;
        RETURN;
    END IF;

    SELECT * INTO r FROM casino_lock_round(s.provider_id, p_round, s.session_id, s.wallet_id, true);
    IF r.session_id <> s.session_id THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_MISMATCH') e;
        RETURN;
    END IF;
    IF r.closed THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_CLOSED') e;
        RETURN;
    END IF;
    IF p_amount < s.min_bet OR p_amount > s.max_bet THEN
        PERFORM casino_drop_round(s.provider_id, p_round, r.created);
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'BET_LIMIT_EXCEEDED') e;
        RETURN;
    END IF;

    -- NO KEY UPDATE, not UPDATE: the rows this transaction inserted hold FOR KEY SHARE on the
    -- wallet (foreign keys), and so do a concurrent debit's; upgrading both to FOR UPDATE
    -- would deadlock. NO KEY UPDATE conflicts with neither, yet serialises the balance.
    SELECT playable_balance, redeemable_balance INTO w
      FROM casino_wallets WHERE id = s.wallet_id FOR NO KEY UPDATE;
    IF w.playable_balance < p_amount THEN
        PERFORM casino_drop_round(s.provider_id, p_round, r.created);
        SELECT e.status, e.body INTO status, body
          FROM casino_reject(c.row_id, 'INSUFFICIENT_FUNDS',
                             jsonb_build_object('balance', w.playable_balance)) e;
        RETURN;
    END IF;

    -- Bonus-type money (playable - redeemable) is spent first, then redeemable.
    v_from_redeemable := GREATEST(0, p_amount - (w.playable_balance - w.redeemable_balance));
    UPDATE casino_wallets
       SET playable_balance = playable_balance - p_amount,
           redeemable_balance = redeemable_balance - v_from_redeemable,
           updated_at = now()
     WHERE id = s.wallet_id
    RETURNING playable_balance, redeemable_balance INTO w;

    SELECT e.status, e.body INTO status, body
      FROM casino_accept(c.row_id, p_transaction_id, -p_amount, -v_from_redeemable,
                         w.playable_balance, w.redeemable_balance, s.currency) e;
END $$;

-- ---------------------------------------------------------------- credit

CREATE OR REPLACE FUNCTION casino_credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_bet TEXT, p_closed BOOLEAN,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    s RECORD;
    c RECORD;
    r RECORD;
    b RECORD;
    w RECORD;
    v_code TEXT;
BEGIN
    replayed := false;
    SELECT * INTO s FROM casino_session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT e.status, e.body INTO status, body FROM casino_unknown_session(p_transaction_id) e;
        RETURN;
    END IF;

    SELECT * INTO c FROM casino_claim_transaction(
        s.provider_id, p_transaction_id, 'credit',
        casino_request_hash('credit', s.user_id, p_currency, p_round, p_amount, p_bet, p_closed),
        s.session_id, s.user_id, s.wallet_id, p_round, p_bet, p_amount, p_closed);
    IF c.row_id IS NULL THEN
        status := c.status; body := c.body; replayed := c.replayed;
        RETURN;
    END IF;

    -- Money owed to the player is always paid: no expiry or block check here.
    IF p_currency <> s.currency THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'CURRENCY_MISMATCH') e;
        RETURN;
    END IF;

    SELECT * INTO r FROM casino_lock_round(s.provider_id, p_round, s.session_id, s.wallet_id, true);
    IF r.session_id <> s.session_id THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_MISMATCH') e;
        RETURN;
    END IF;
    IF r.closed THEN
        SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_CLOSED') e;
        RETURN;
    END IF;

    IF p_bet IS NOT NULL THEN
        SELECT t.status, t.session_id, t.round_id, t.error_code INTO b
          FROM casino_transactions t
         WHERE t.provider_id = s.provider_id AND t.transaction_id = p_bet AND t.kind = 'debit';
        IF EXISTS (SELECT 1 FROM casino_bet_claims
                    WHERE provider_id = s.provider_id AND transaction_id = p_bet
                      AND claimed_by = 'tombstone') THEN
            v_code := 'BET_ROLLED_BACK';
        ELSIF b.status IS DISTINCT FROM 'accepted'
              OR b.session_id <> s.session_id OR b.round_id <> p_round THEN
            v_code := 'BET_NOT_FOUND';
        ELSIF EXISTS (SELECT 1 FROM casino_transactions t
                       WHERE t.provider_id = s.provider_id AND t.bet_transaction_id = p_bet
                         AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
            v_code := 'BET_ROLLED_BACK';
        END IF;
        IF v_code IS NOT NULL THEN
            PERFORM casino_drop_round(s.provider_id, p_round, r.created);
            SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, v_code) e;
            RETURN;
        END IF;
    END IF;

    UPDATE casino_rounds SET has_credit = true, closed = p_closed
     WHERE provider_id = s.provider_id AND round_id = p_round;
    UPDATE casino_wallets
       SET playable_balance = playable_balance + p_amount,
           redeemable_balance = redeemable_balance + p_amount,
           updated_at = now()
     WHERE id = s.wallet_id
    RETURNING playable_balance, redeemable_balance INTO w;

    SELECT e.status, e.body INTO status, body
      FROM casino_accept(c.row_id, p_transaction_id, p_amount, p_amount,
                         w.playable_balance, w.redeemable_balance, s.currency) e;
END $$;

-- ---------------------------------------------------------------- rollback

CREATE OR REPLACE FUNCTION casino_rollback(
    p_token_hash BYTEA, p_transaction_id TEXT, p_bet TEXT, p_round TEXT,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    s RECORD;
    c RECORD;
    r RECORD;
    b RECORD;
    w RECORD;
    v_refund BIGINT := 0;
    v_refund_redeemable BIGINT := 0;
    v_tombstone BOOLEAN := false;
    v_attempt INT := 0;
    v_new_claim BOOLEAN := false;
BEGIN
    replayed := false;
    SELECT * INTO s FROM casino_session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT e.status, e.body INTO status, body FROM casino_unknown_session(p_transaction_id) e;
        RETURN;
    END IF;

    SELECT * INTO c FROM casino_claim_transaction(
        s.provider_id, p_transaction_id, 'rollback',
        casino_request_hash('rollback', s.user_id, NULL, p_round, NULL, p_bet, false),
        s.session_id, s.user_id, s.wallet_id, p_round, p_bet, 0, false);
    IF c.row_id IS NULL THEN
        status := c.status; body := c.body; replayed := c.replayed;
        RETURN;
    END IF;

    -- Accepted on an expired session and for a blocked player.
    LOOP
        v_attempt := v_attempt + 1;
        SELECT t.kind, t.status, t.session_id, t.round_id, t.amount, t.redeemable_delta INTO b
          FROM casino_transactions t
         WHERE t.provider_id = s.provider_id AND t.transaction_id = p_bet;
        EXIT WHEN FOUND;
        -- Bet unknown: leave a tombstone. If a debit with that id is in flight we wait for
        -- it here (claim before round, the global lock order); when it commits, its claim
        -- exists and we look the bet up again.
        INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by)
        VALUES (s.provider_id, p_bet, 'tombstone')
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            v_new_claim := true;
            v_tombstone := true;
            EXIT;
        END IF;
        IF EXISTS (SELECT 1 FROM casino_bet_claims
                    WHERE provider_id = s.provider_id AND transaction_id = p_bet
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
        SELECT * INTO r FROM casino_lock_round(s.provider_id, p_round, s.session_id, s.wallet_id, false);
        IF r.round_found AND (r.session_id <> s.session_id OR r.has_credit) THEN
            IF v_new_claim THEN
                DELETE FROM casino_bet_claims WHERE provider_id = s.provider_id AND transaction_id = p_bet;
            END IF;
            SELECT e.status, e.body INTO status, body
              FROM casino_reject(c.row_id, CASE WHEN r.session_id <> s.session_id
                                                THEN 'ROUND_MISMATCH' ELSE 'BET_ALREADY_SETTLED' END) e;
            RETURN;
        END IF;
    END IF;

    IF NOT v_tombstone THEN
        IF b.kind <> 'debit' THEN
            SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'NOT_A_BET') e;
            RETURN;
        END IF;
        IF p_round IS NOT NULL AND p_round <> b.round_id THEN
            SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_MISMATCH') e;
            RETURN;
        END IF;
        IF b.status = 'accepted' THEN
            SELECT * INTO r FROM casino_lock_round(s.provider_id, b.round_id, s.session_id, s.wallet_id, false);
            IF r.session_id <> s.session_id THEN
                SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'ROUND_MISMATCH') e;
                RETURN;
            END IF;
            IF r.has_credit THEN
                SELECT e.status, e.body INTO status, body FROM casino_reject(c.row_id, 'BET_ALREADY_SETTLED') e;
                RETURN;
            END IF;
            -- Refund once: a rollback that already refunded this bet makes this one a no-op.
            IF NOT EXISTS (SELECT 1 FROM casino_transactions t
                            WHERE t.provider_id = s.provider_id AND t.bet_transaction_id = p_bet
                              AND t.kind = 'rollback' AND t.status = 'accepted' AND t.amount > 0) THEN
                v_refund := b.amount;
                v_refund_redeemable := -b.redeemable_delta;
            END IF;
        END IF;
        -- A rejected bet, or one already rolled back: 200, nothing moves.
    END IF;

    IF v_refund > 0 THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance + v_refund,
               redeemable_balance = redeemable_balance + v_refund_redeemable,
               updated_at = now()
         WHERE id = s.wallet_id
        RETURNING playable_balance, redeemable_balance INTO w;
    ELSE
        SELECT playable_balance, redeemable_balance INTO w FROM casino_wallets WHERE id = s.wallet_id;
    END IF;
    UPDATE casino_transactions SET amount = v_refund, tombstone = v_tombstone WHERE id = c.row_id;

    SELECT e.status, e.body INTO status, body
      FROM casino_accept(c.row_id, p_transaction_id, v_refund, v_refund_redeemable,
                         w.playable_balance, w.redeemable_balance, s.currency,
                         jsonb_build_object('rolledBackAmount', v_refund, 'tombstone', v_tombstone)) e;
END $$;
