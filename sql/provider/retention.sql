-- The provider's retention (docs/retention.md), re-created by every `migrate` and run by
-- ProviderRetentionFunction (daily) or `python -m devtools purge`, as the provider role.
--
-- SETTLEMENT, adjust here: the provider keeps the casino's session token in
-- provider_sessions.casino_session_token because durable settlement must still deliver owed
-- credits and rollbacks up to SETTLEMENT_HORIZON_SECONDS after a round (the casino accepts
-- credits and rollbacks on expired sessions). So a session's token is purged only when
--   - the session is older than p_session_seconds + p_settlement_seconds (the settlement
--     horizon is taken as at least 86,400 s, its default, whatever is passed), and
--   - none of its rounds is still undecided: provider_game_rounds.status 'open' (being played,
--     or left for the sweeper) or 'pending_settlement' (the outbox still owes a callback).
-- The token is replaced by 'sha256:' and the hex SHA-256 of it - the casino's own token_hash -
-- so support can still match the two sides' sessions; the column stays NOT NULL.
DROP SCHEMA IF EXISTS provider_retention CASCADE;
CREATE SCHEMA provider_retention;

CREATE FUNCTION provider_retention.purge_casino_session_tokens(
    p_session_seconds INT, p_settlement_seconds INT, p_batch INT DEFAULT 5000, OUT tokens INT)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE provider_sessions
       SET casino_session_token = 'sha256:' || encode(sha256(convert_to(casino_session_token, 'UTF8')), 'hex')
     WHERE id IN (
           SELECT s.id FROM provider_sessions s
            WHERE s.created_at < now() - make_interval(secs => greatest(p_session_seconds, 0) + greatest(p_settlement_seconds, 86400))
              AND s.casino_session_token NOT LIKE 'sha256:%'
              AND NOT EXISTS (SELECT 1 FROM provider_game_rounds r
                               WHERE r.provider_session_id = s.id AND r.status IN ('open', 'pending_settlement'))
            LIMIT p_batch);
    GET DIAGNOSTICS tokens = ROW_COUNT;
END $$;
