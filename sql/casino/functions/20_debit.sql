-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- The write path and lock order: 00_helpers.sql. A debit writes a new round, its ledger row
-- (once) and the wallet; a refused one only its ledger row. Past the currency check it holds its
-- bet id's lock, so a rollback racing with it either left its tombstone before (BET_ROLLED_BACK)
-- or finds this debit's row after (a refund, or no effect for a refused debit), never neither.
CREATE FUNCTION ledger.debit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_round TEXT, p_amount BIGINT, p_currency TEXT,
    p_invocation UUID DEFAULT NULL,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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
    -- What the HTTP API never passes (docs/protocol.md §1): raised, nothing stored.
    IF p_token_hash IS NULL OR p_transaction_id IS NULL OR p_round IS NULL OR p_currency IS NULL
       OR p_amount IS NULL OR p_amount NOT BETWEEN 1 AND 1000000000000 THEN
        RAISE EXCEPTION 'ledger.debit: an argument is NULL or out of range' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
    ELSIF v_session.game_disabled THEN
        -- The session's game or provider was switched off after the launch (docs/protocol.md §10).
        v_code := 'GAME_DISABLED';
    ELSIF p_currency <> v_session.currency THEN
        v_code := 'CURRENCY_MISMATCH';
    ELSE
        -- The bet id's lock, then (a new snapshot) the tombstone a rollback that came first left.
        PERFORM ledger.lock_bet_id(v_session.provider_id, p_transaction_id);
        IF EXISTS (SELECT 1 FROM ledger.tombstones(v_session.provider_id, p_transaction_id)) THEN
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
        -- Another request holds this transactionId: undo this one's insert.
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
