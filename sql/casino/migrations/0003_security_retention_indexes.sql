-- What the casino's retention purge (sql/casino/retention.sql) looks up, as small partial
-- indexes: expired sessions that still hold a launch URL, and launches still pending. Both
-- hold few rows (a URL is dropped once its session expired, a launch is pending for
-- seconds); the money callbacks never write these columns.
CREATE INDEX casino_game_sessions_launch_url_expiry ON casino_game_sessions (expires_at)
WHERE launch_url IS NOT NULL;
CREATE INDEX casino_game_sessions_pending ON casino_game_sessions (created_at)
WHERE status = 'pending';
