-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_bet TEXT, p_closed BOOLEAN, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
