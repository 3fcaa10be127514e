-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
CREATE FUNCTION ledger.get_balance(p_token_hash BYTEA,
    OUT status INT, OUT body TEXT, OUT replayed BOOLEAN)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_session RECORD;
    v_wallet RECORD;
BEGIN
    replayed := false;
    IF p_token_hash IS NULL THEN
        RAISE EXCEPTION 'ledger.get_balance: the token hash is NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
