-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- POST /casino/debitCredit (docs/protocol.md §4b): a whole round in one call, one statement, one
-- transaction. The write path and lock order are the debit's (00_helpers.sql, 20_debit.sql); the
-- debit is decided with all of its rules in §4's order, then the win as a credit naming this bet
-- (whose rules the accepted debit has already met: same session, same round, open, the bet its
-- own). Both legs or neither: a refused debit stores its refusal under transactionId, moves
-- nothing and leaves winTransactionId unused.
--
-- Two ledger rows: the debit leg under transactionId (holding the response sent, replayed
-- byte-for-byte) and the credit leg under winTransactionId (kind 'credit', naming the bet).
-- Both carry the same request hash, made over every field of the request including both ids, so
-- a debit, credit or rollback reusing either id, or another debitCredit naming them differently,
-- is TRANSACTION_ID_CONFLICT. The round gets its credit from the credit leg: a rollback of the
-- bet is BET_ALREADY_SETTLED.
--
-- The hash is versioned: 'debitCredit/2' starts its array (the other callbacks' hashes, version 1,
-- are ledger.request_hash's and do not change).
CREATE FUNCTION ledger.debit_credit_hash(
    p_user UUID, p_currency TEXT, p_round TEXT, p_amount BIGINT, p_closed BOOLEAN,
    p_transaction_id TEXT, p_win_transaction_id TEXT, p_win_amount BIGINT)
RETURNS BYTEA LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(
        pg_catalog.jsonb_build_array('debitCredit/2', p_user, p_currency, p_round, p_amount, p_closed,
                                     p_transaction_id, p_win_transaction_id, p_win_amount)::text,
        'UTF8'))
$$;

CREATE FUNCTION ledger.debit_credit(
    p_token_hash BYTEA, p_transaction_id TEXT, p_win_transaction_id TEXT, p_round TEXT, p_amount BIGINT,
    p_win_amount BIGINT, p_currency TEXT, p_closed BOOLEAN, p_invocation UUID DEFAULT NULL,
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
    v_from_redeemable BIGINT := 0;
    v_win_redeemable BIGINT := 0;
    v_playable BIGINT;
    v_redeemable BIGINT;
    v_rec RECORD;
BEGIN
    replayed := false;
    -- What the HTTP API never passes (docs/protocol.md §1, §4b): raised, nothing stored.
    IF p_token_hash IS NULL OR p_transaction_id IS NULL OR p_win_transaction_id IS NULL OR p_round IS NULL
       OR p_currency IS NULL OR p_closed IS NULL
       OR p_amount IS NULL OR p_amount NOT BETWEEN 1 AND 1000000000000
       OR p_win_amount IS NULL OR p_win_amount NOT BETWEEN 0 AND 1000000000000 THEN
        RAISE EXCEPTION 'ledger.debit_credit: an argument is NULL or out of range'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_session FROM ledger.session_by_token(p_token_hash);
    IF NOT FOUND THEN
        SELECT * INTO status, body FROM ledger.unknown_session(p_transaction_id);
        RETURN;
    END IF;
    v_hash := ledger.debit_credit_hash(v_session.user_id, p_currency, p_round, p_amount, p_closed,
                                       p_transaction_id, p_win_transaction_id, p_win_amount);
    SELECT * INTO status, body, replayed
      FROM ledger.stored_answer(v_session.provider_id, p_transaction_id, v_hash, p_invocation);
    IF status IS NOT NULL THEN
        RETURN;
    END IF;
    -- winTransactionId is reserved with transactionId: held by anything else, a conflict (not
    -- stored: nothing of this request is written).
    IF p_win_transaction_id = p_transaction_id
       OR EXISTS (SELECT 1 FROM casino_transactions t
                   WHERE t.provider_id = v_session.provider_id AND t.transaction_id = p_win_transaction_id) THEN
        SELECT * INTO status, body FROM ledger.error_body('TRANSACTION_ID_CONFLICT');
        RETURN;
    END IF;

    SELECT w.playable_balance, w.redeemable_balance INTO v_wallet
      FROM casino_wallets w WHERE w.id = v_session.wallet_id FOR NO KEY UPDATE;

    -- The debit's rules, in §4's order (as ledger.debit).
    IF v_session.expired THEN
        v_code := 'SESSION_EXPIRED';
    ELSIF v_session.blocked THEN
        v_code := 'PLAYER_BLOCKED';
    ELSIF v_session.game_disabled THEN
        v_code := 'GAME_DISABLED';
    ELSIF p_currency <> v_session.currency THEN
        v_code := 'CURRENCY_MISMATCH';
    ELSE
        PERFORM ledger.lock_bet_id(v_session.provider_id, p_transaction_id);
        IF EXISTS (SELECT 1 FROM ledger.tombstones(v_session.provider_id, p_transaction_id)) THEN
            v_code := 'BET_ROLLED_BACK';
        END IF;
    END IF;

    IF v_code IS NULL THEN
        SELECT r.session_id, r.has_credit, r.closed INTO v_round
          FROM casino_rounds r WHERE r.provider_id = v_session.provider_id AND r.round_id = p_round;
        v_round_found := FOUND;
        IF NOT v_round_found AND p_amount BETWEEN v_session.min_bet AND v_session.max_bet
           AND v_wallet.playable_balance >= p_amount THEN
            -- The bet is good, so the whole round is: it opens the round with its credit (and
            -- closes it as the request says).
            INSERT INTO casino_rounds (provider_id, round_id, session_id, wallet_id, has_credit, closed)
            VALUES (v_session.provider_id, p_round, v_session.session_id, v_session.wallet_id, true, p_closed)
            ON CONFLICT DO NOTHING;
            v_created := FOUND;
            IF NOT v_created THEN
                SELECT r.session_id, r.has_credit, r.closed INTO v_round
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
        ELSIF p_win_amount - p_amount > ledger.balance_limit() - v_wallet.playable_balance THEN
            -- The credit's last rule: the balance after both legs would pass 2^53 - 1.
            v_code := 'BALANCE_LIMIT_EXCEEDED';
        END IF;
    END IF;
    -- The credit's rules (§4) all hold for an accepted debit: same currency, the round is this
    -- session's and open, and the bet it names is this accepted, not rolled back, debit.

    IF v_code IS NULL THEN
        -- Bonus-type money first, then redeemable (as a debit); the win in the bet's proportion.
        v_from_redeemable := GREATEST(0, p_amount - (v_wallet.playable_balance - v_wallet.redeemable_balance));
        v_win_redeemable := ledger.win_redeemable(p_win_amount, p_amount, v_from_redeemable);
        v_extra := jsonb_build_object(
            'winTransactionId', p_win_transaction_id,
            'balance', v_wallet.playable_balance - p_amount + p_win_amount,
            'redeemableBalance', v_wallet.redeemable_balance - v_from_redeemable + v_win_redeemable);
    END IF;
    -- The debit leg: its row holds the response (balance after both legs, through p_extra); its
    -- balance_after is the balance right after the stake, as every ledger row's.
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
    IF v_code IS NOT NULL THEN
        RETURN;
    END IF;

    v_playable := v_wallet.playable_balance - p_amount + p_win_amount;
    v_redeemable := v_wallet.redeemable_balance - v_from_redeemable + v_win_redeemable;
    SELECT * INTO v_rec FROM ledger.record(
        v_session.provider_id, p_win_transaction_id, 'credit', v_hash, v_session.session_id,
        v_session.user_id, v_session.wallet_id, p_round, p_transaction_id, p_win_amount, p_closed, false,
        p_invocation, NULL, '{}'::JSONB, p_win_amount, v_win_redeemable, v_playable, v_redeemable,
        v_session.currency);
    IF NOT v_rec.written THEN
        -- A request with winTransactionId committed after the check above (it was free then): the
        -- debit leg written above must go too, and the ledger is append-only. Undo the whole
        -- transaction as a serialization failure; the handler's retry then finds that request's
        -- row and answers TRANSACTION_ID_CONFLICT.
        RAISE EXCEPTION 'winTransactionId taken by a concurrent request' USING ERRCODE = 'serialization_failure';
    END IF;

    IF v_round_found AND NOT v_created AND (NOT v_round.has_credit OR p_closed) THEN
        UPDATE casino_rounds SET has_credit = true, closed = p_closed
         WHERE provider_id = v_session.provider_id AND round_id = p_round;
    END IF;
    UPDATE casino_wallets
       SET playable_balance = playable_balance - p_amount + p_win_amount,
           redeemable_balance = redeemable_balance - v_from_redeemable + v_win_redeemable,
           updated_at = now()
     WHERE id = v_session.wallet_id;
END $$;
