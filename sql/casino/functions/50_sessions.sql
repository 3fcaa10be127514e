-- Recreated by every `migrate`: the schema `ledger` is dropped and created again before
-- these files run (sql/casino/functions/, in name order), so a changed signature needs no
-- DROP FUNCTION of its own.
-- launchGame's session writes (seamless/casino/launch.py, docs/protocol.md §6): the only way
-- casino_app makes, activates or fails a session (SECURITY DEFINER, owned by casino_owner).

-- Checks the player (exists, not blocked), takes the player's own wallet in that currency and
-- the game (active, provider enabled), and creates the session pending, its expiry computed
-- here: now + p_ttl_seconds, refused above the ledger's setting session_ttl_max_seconds
-- (casino_ledger_settings). code is NULL when the session was created, else the contract error
-- that refuses the launch (nothing written). The session's player, wallet, game, provider and
-- currency all come from these rows, never from the caller: a session naming another player's
-- wallet cannot be made (and the wallets' foreign key refuses it to anyone).
CREATE FUNCTION ledger.open_session(
    p_session_id UUID, p_token_hash BYTEA, p_user UUID, p_game UUID, p_currency TEXT, p_ttl_seconds INT,
    OUT code TEXT, OUT provider_game_id TEXT, OUT api_base_url TEXT, OUT secret_ref TEXT,
    OUT expires_at TIMESTAMPTZ, OUT currency_decimals INT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v RECORD;
BEGIN
    IF p_session_id IS NULL OR p_token_hash IS NULL OR octet_length(p_token_hash) <> 32 OR p_user IS NULL
       OR p_game IS NULL OR p_currency IS NULL OR p_ttl_seconds IS NULL OR p_ttl_seconds < 1
       OR p_ttl_seconds > (SELECT s.value FROM casino_ledger_settings s WHERE s.name = 'session_ttl_max_seconds') THEN
        RAISE EXCEPTION 'ledger.open_session: an argument is NULL or out of range (session_ttl_max_seconds)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.status AS user_status, w.id AS wallet_id, w.currency::text AS currency,
           g.id AS game_id, g.provider_game_id, g.active AS game_active,
           p.id AS provider_id, p.api_base_url, p.secret_ref, p.disabled AS provider_disabled,
           c.exponent AS currency_decimals, l.game_id IS NOT NULL AS currency_supported
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
    END IF;
    IF code IS NOT NULL THEN
        RETURN;
    END IF;
    INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency,
                                      status, expires_at)
    VALUES (p_session_id, p_token_hash, p_user, v.wallet_id, v.game_id, v.provider_id, v.currency,
            'pending', now() + make_interval(secs => p_ttl_seconds))
    RETURNING casino_game_sessions.expires_at INTO expires_at;
    provider_game_id := v.provider_game_id;
    api_base_url := v.api_base_url;
    secret_ref := v.secret_ref;
    currency_decimals := v.currency_decimals;
END $$;

-- The provider launched the session: it becomes usable. Returns the wallet's balance, or NULL
-- when no pending session has that id (nothing changes).
CREATE FUNCTION ledger.activate_session(p_session_id UUID, p_provider_session_id TEXT, p_launch_url TEXT)
RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_balance BIGINT;
BEGIN
    IF p_session_id IS NULL OR p_provider_session_id IS NULL OR p_launch_url IS NULL THEN
        RAISE EXCEPTION 'ledger.activate_session: an argument is NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE casino_game_sessions s
       SET status = 'active', provider_session_id = p_provider_session_id, launch_url = p_launch_url
      FROM casino_wallets w
     WHERE s.id = p_session_id AND s.status = 'pending' AND w.id = s.wallet_id
    RETURNING w.playable_balance INTO v_balance;
    RETURN v_balance;
END $$;

-- The provider refused the launch: the session stays unusable. True when a pending session
-- was failed.
CREATE FUNCTION ledger.fail_session(p_session_id UUID)
RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE casino_game_sessions SET status = 'failed' WHERE id = p_session_id AND status = 'pending';
    RETURN FOUND;
END $$;
