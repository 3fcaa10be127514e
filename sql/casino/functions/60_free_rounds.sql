-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- Free-round grants (docs/protocol.md §4b; seamless/casino/free_rounds.py): the only way
-- casino_app records, activates, fails or cancels a grant (SECURITY DEFINER, owned by
-- casino_owner). The provider is called between these functions, never inside one. A grant's
-- rounds are counted by ledger.credit (30_credit.sql), in the credit's own transaction.

-- Checks the player, wallet, game and currency as launchGame does (50_sessions.sql), then the
-- stake against the game's limits for the currency, and records the grant 'pending' (never
-- usable until ledger.activate_grant). code is NULL when recorded, else the contract error.
CREATE FUNCTION ledger.open_grant(
    p_grant_id TEXT, p_user UUID, p_game UUID, p_currency TEXT, p_rounds INT, p_bet BIGINT,
    p_expires TIMESTAMPTZ, p_fund TEXT,
    OUT code TEXT, OUT provider_game_id TEXT, OUT api_base_url TEXT, OUT secret_ref TEXT,
    OUT currency_decimals INT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v RECORD;
BEGIN
    IF p_grant_id IS NULL OR p_user IS NULL OR p_game IS NULL OR p_currency IS NULL
       OR p_rounds IS NULL OR p_rounds NOT BETWEEN 1 AND 1000 OR p_bet IS NULL OR p_bet < 1
       OR p_expires IS NULL OR p_expires <= now() OR p_expires > now() + interval '90 days'
       OR p_fund IS NULL OR p_fund NOT IN ('bonus', 'cash') THEN
        RAISE EXCEPTION 'ledger.open_grant: an argument is NULL or out of range' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.status AS user_status, w.id AS wallet_id, w.currency::text AS currency,
           g.id AS game_id, g.provider_game_id, g.active AS game_active,
           p.id AS provider_id, p.api_base_url, p.secret_ref, p.disabled AS provider_disabled,
           c.exponent AS currency_decimals, l.game_id IS NOT NULL AS currency_supported,
           l.min_bet, l.max_bet
      INTO v
      FROM casino_users u
      LEFT JOIN casino_wallets w ON w.user_id = u.id AND w.currency = p_currency
      LEFT JOIN casino_games g ON g.id = p_game
      LEFT JOIN casino_game_providers p ON p.id = g.provider_id
      LEFT JOIN casino_currencies c ON c.code = w.currency
      LEFT JOIN casino_game_limits l ON l.game_id = g.id AND l.currency = w.currency
     WHERE u.id = p_user;
    IF NOT FOUND THEN
        code := 'USER_NOT_FOUND';
    ELSIF v.user_status = 'blocked' THEN
        code := 'PLAYER_BLOCKED';
    ELSIF v.wallet_id IS NULL THEN
        code := 'WALLET_NOT_FOUND';
    ELSIF v.game_id IS NULL OR NOT v.game_active OR v.provider_disabled THEN
        code := 'GAME_NOT_FOUND';
    ELSIF NOT v.currency_supported THEN
        code := 'CURRENCY_NOT_SUPPORTED';
    ELSIF p_bet NOT BETWEEN v.min_bet AND v.max_bet THEN
        code := 'BET_LIMIT_EXCEEDED';
    END IF;
    IF code IS NOT NULL THEN
        RETURN;
    END IF;
    INSERT INTO casino_free_round_grants (grant_id, user_id, wallet_id, game_id, provider_id, currency, rounds,
                                          bet_amount, expires_at, fund)
    VALUES (p_grant_id, p_user, v.wallet_id, v.game_id, v.provider_id, v.currency, p_rounds, p_bet, p_expires, p_fund);
    provider_game_id := v.provider_game_id;
    api_base_url := v.api_base_url;
    secret_ref := v.secret_ref;
    currency_decimals := v.currency_decimals;
END $$;

-- The provider accepted the grant ('pending' -> 'active'), or did not ('pending' -> 'failed':
-- never usable). Either returns whether a pending grant of that id was found.
CREATE FUNCTION ledger.settle_grant(p_grant_id TEXT, p_accepted BOOLEAN) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_grant_id IS NULL OR p_accepted IS NULL THEN
        RAISE EXCEPTION 'ledger.settle_grant: an argument is NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE casino_free_round_grants
       SET status = CASE WHEN p_accepted THEN 'active' ELSE 'failed' END
     WHERE grant_id = p_grant_id AND status = 'pending';
    RETURN FOUND;
END $$;

-- Marks an active grant cancelled (the provider's cancel was accepted first); a cancelled one
-- stays so. Returns its rounds played, or NULL when no active or cancelled grant has the id.
CREATE FUNCTION ledger.cancel_grant(p_grant_id TEXT) RETURNS INT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_played INT;
BEGIN
    IF p_grant_id IS NULL THEN
        RAISE EXCEPTION 'ledger.cancel_grant: an argument is NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE casino_free_round_grants
       SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())
     WHERE grant_id = p_grant_id AND status IN ('active', 'cancelled')
    RETURNING rounds_played INTO v_played;
    RETURN v_played;
END $$;
