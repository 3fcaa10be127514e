-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A rollback writes its ledger row (once) and the
-- wallet for a refund; a refused one only its row. For an unknown bet its row is the tombstone
-- (tombstone = true), written under the bet id's lock, so a debit with that id racing with it
-- either committed before (then its row is found here) or sees the tombstone after.
CREATE FUNCTION ledger.rollback(
    p_token_hash BYTEA, p_transaction_id TEXT, p_bet TEXT, p_round TEXT, p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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
    -- What the HTTP API never passes (docs/protocol.md §1): raised, nothing stored.
    IF p_token_hash IS NULL OR p_transaction_id IS NULL OR p_bet IS NULL THEN
        RAISE EXCEPTION 'ledger.rollback: an argument is NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
                IF v_bet.amount > ledger.balance_limit() - v_wallet.playable_balance THEN
                    -- Wins of other rounds took the balance near 2^53 - 1 meanwhile (docs/protocol.md §10).
                    v_code := 'BALANCE_LIMIT_EXCEEDED';
                ELSE
                    v_refund := v_bet.amount;
                    v_refund_redeemable := -v_bet.redeemable_delta;
                END IF;
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
        -- Another request holds this transactionId (nothing of this one was written).
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
