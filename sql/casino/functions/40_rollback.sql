-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.rollback(
    p_token_hash BYTEA, p_transaction_id TEXT, p_bet TEXT, p_round TEXT, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
