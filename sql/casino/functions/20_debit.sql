-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.debit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
