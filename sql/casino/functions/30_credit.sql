-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A credit writes its ledger row (once), its
-- round (a new one with its flags, or the flags of an existing one when they change) and, for
-- more than 0, the wallet; a refused one only its ledger row.
--
-- Credit reasons (§4b, migration 0009): p_reason NULL (or 'win') is a plain win and keeps the
-- version-1 hash (ledger.request_hash), so a transactionId stored before reasons existed still
-- matches; a typed credit hashes 'credit/2' with its reason, promotion and grant ids.
CREATE FUNCTION ledger.credit_hash(
    p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT, p_bet TEXT, p_closed BOOLEAN,
    p_reason TEXT, p_promotion TEXT, p_grant TEXT)
RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_reason IS NULL
                THEN ledger.request_hash('credit', p_user, p_currency, p_round, p_amount, p_bet, p_closed)
                ELSE pg_catalog.sha256(pg_catalog.convert_to(
                    pg_catalog.jsonb_build_array('credit/2', p_user, p_currency, p_round, p_amount, p_bet,
                                                 p_closed, p_reason, p_promotion, p_grant)::text,
                    'UTF8')) END
$$;

-- The funding rule for a credit naming no bet (§4b): a payout is redeemable unless its
-- promotionId is registered bonus-funded (casino_promotions).
CREATE FUNCTION ledger.promotion_is_bonus(p_promotion TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM public.casino_promotions p
                    WHERE p.promotion_id = p_promotion AND p.funding = 'bonus')
$$;

CREATE FUNCTION ledger.credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_bet TEXT, p_closed BOOLEAN, p_invocation UUID DEFAULT NULL,
    p_reason TEXT DEFAULT NULL, p_promotion TEXT DEFAULT NULL, p_grant TEXT DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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
    v_grant RECORD;
    -- the funding rule (§4b): a win naming no bet is redeemable; one naming its bet, below
    v_redeemable BIGINT := p_amount;
BEGIN
    replayed := false;
    -- What the HTTP API never passes (docs/protocol.md §1): raised, nothing stored.
    IF p_token_hash IS NULL OR p_transaction_id IS NULL OR p_round IS NULL OR p_currency IS NULL
       OR p_closed IS NULL OR p_amount IS NULL OR p_amount NOT BETWEEN 0 AND 1000000000000 THEN
        RAISE EXCEPTION 'ledger.credit: an argument is NULL or out of range' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_reason = 'win' THEN
        p_reason := NULL;  -- the default, stored and hashed as a plain win
    END IF;
    -- §4b's shape, refused by the API with 400 before it gets here.
    IF NOT ((p_reason IS NULL AND p_promotion IS NULL AND p_grant IS NULL)
            OR (p_reason = 'jackpot' AND p_promotion IS NOT NULL AND p_grant IS NULL)
            OR (p_reason IN ('promotion', 'tournament') AND p_promotion IS NOT NULL AND p_grant IS NULL
                AND p_bet IS NULL)
            OR (p_reason = 'freeRound' AND p_grant IS NOT NULL AND p_promotion IS NULL AND p_bet IS NULL)) THEN
        RAISE EXCEPTION 'ledger.credit: reason, promotionId, grantId and betTransactionId do not fit together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    v_hash := ledger.credit_hash(v_session.user_id, p_currency, p_round, p_amount, p_bet, p_closed,
                                 p_reason, p_promotion, p_grant);
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
            SELECT t.status, t.session_id, t.round_id, t.amount, t.redeemable_delta INTO v_bet
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
        ELSIF p_reason = 'freeRound' THEN
            -- A grant of this session's player, game and currency, with a round left: active or
            -- cancelled since (a round started in time is paid), or still pending (the provider
            -- accepted it and the casino has not marked it yet: only the provider names it). A
            -- failed grant is never usable (the casino asked the provider to cancel it).
            -- Its row is locked after the wallet's (the same player's and currency's wallet).
            SELECT g.grant_id, g.rounds, g.rounds_played, g.fund INTO v_grant
              FROM casino_free_round_grants g
              JOIN casino_game_sessions gs ON gs.id = v_session.session_id
             WHERE g.grant_id = p_grant AND g.user_id = v_session.user_id AND g.game_id = gs.game_id
               AND g.currency = v_session.currency AND g.status IN ('pending', 'active', 'cancelled')
               FOR NO KEY UPDATE OF g;
            IF NOT FOUND THEN
                v_code := 'GRANT_NOT_FOUND';
            ELSIF v_grant.rounds_played >= v_grant.rounds THEN
                v_code := 'FREE_ROUNDS_EXHAUSTED';
            END IF;
        END IF;
        IF v_code IS NULL AND p_amount > ledger.balance_limit() - v_wallet.playable_balance THEN
            -- Last in the order: the balance would pass 2^53 - 1 (stored, like every refusal).
            v_code := 'BALANCE_LIMIT_EXCEEDED';
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

    -- The funding rule (§4b): a win naming its bet in its bet's proportion; a free round bonus
    -- unless its grant funds cash; a payout (a win naming no bet, a jackpot, a promotion, a
    -- tournament) redeemable unless its promotionId is registered bonus-funded.
    IF v_code IS NULL AND p_reason = 'freeRound' THEN
        v_redeemable := CASE WHEN v_grant.fund = 'cash' THEN p_amount ELSE 0 END;
    ELSIF v_code IS NULL AND p_promotion IS NOT NULL AND ledger.promotion_is_bonus(p_promotion) THEN
        v_redeemable := 0;
    ELSIF v_code IS NULL AND p_bet IS NOT NULL AND p_reason IS NULL THEN
        v_redeemable := ledger.win_redeemable(p_amount, v_bet.amount, -v_bet.redeemable_delta);
    END IF;
    SELECT * INTO v_rec FROM ledger.record(
        v_session.provider_id, p_transaction_id, 'credit', v_hash, v_session.session_id,
        v_session.user_id, v_session.wallet_id, p_round, p_bet, p_amount, p_closed, false, p_invocation,
        v_code, '{}'::JSONB, p_amount, v_redeemable, v_wallet.playable_balance + p_amount,
        v_wallet.redeemable_balance + v_redeemable, v_session.currency, p_reason, p_promotion, p_grant);
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
    IF p_reason = 'freeRound' THEN
        UPDATE casino_free_round_grants
           SET rounds_played = rounds_played + 1, won_amount = won_amount + p_amount
         WHERE grant_id = p_grant;
    END IF;
    IF v_round_found AND (NOT v_round.has_credit OR p_closed) THEN
        UPDATE casino_rounds SET has_credit = true, closed = p_closed
         WHERE provider_id = v_session.provider_id AND round_id = p_round;
    END IF;
    IF p_amount > 0 THEN
        UPDATE casino_wallets
           SET playable_balance = playable_balance + p_amount,
               redeemable_balance = redeemable_balance + v_redeemable,
               updated_at = now()
         WHERE id = v_session.wallet_id;
    END IF;
END $$;
