-- The casino's retention (docs/retention.md, docs/protocol.md §5), re-created by every
-- `migrate` and run by CasinoRetentionFunction (daily) or `python -m devtools purge`, as the
-- casino role: SECURITY DEFINER, owned by casino_owner like the ledger's functions (casino_app
-- may not write sessions itself, sql/casino/grants.sql).
--
-- What it never touches: the ledger (casino_transactions: stored outcomes and the money
-- record; growth is managed by partitions, not deletes), rounds (a round's has_credit and
-- closed flags are what refuse a late rollback or debit in a settled round), sessions' rows
-- (the ledger references them; their tokens are stored only as SHA-256 hashes).
--
-- What it purges, one batch per call (the caller repeats until nothing is left):
-- - nothing of the bet claims any more: since ledger v3 (migration 0004) a bet is claimed by its
--   debit's ledger row and a tombstone is its rollback's ledger row, both kept with the ledger.
--   bet_claims and tombstones stay in the result, always 0, so the job's output keeps its shape
--   (p_tombstone_days and p_claim_seconds are still accepted, and unused).
-- - the launch URL of sessions expired more than p_launch_grace_seconds ago: it is what a
--   player's browser used to open the game, useless and not to be kept after the session.
-- - launches still pending after p_pending_seconds (at least 5 minutes) are marked failed: the
--   launch call that created them has long ended, they can never become usable.
DROP SCHEMA IF EXISTS casino_retention CASCADE;
CREATE SCHEMA casino_retention;

CREATE FUNCTION casino_retention.purge(
    p_batch INT DEFAULT 5000, p_tombstone_days INT DEFAULT 120, p_claim_seconds INT DEFAULT 86400,
    p_launch_grace_seconds INT DEFAULT 3600, p_pending_seconds INT DEFAULT 3600,
    OUT bet_claims INT, OUT tombstones INT, OUT launch_urls INT, OUT stale_launches INT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    bet_claims := 0;
    tombstones := 0;

    UPDATE casino_game_sessions SET launch_url = NULL
     WHERE id IN (
           SELECT s.id FROM casino_game_sessions s
            WHERE s.launch_url IS NOT NULL
              AND s.expires_at < now() - make_interval(secs => greatest(p_launch_grace_seconds, 0))
            LIMIT p_batch);
    GET DIAGNOSTICS launch_urls = ROW_COUNT;

    UPDATE casino_game_sessions SET status = 'failed'
     WHERE id IN (
           SELECT s.id FROM casino_game_sessions s
            WHERE s.status = 'pending' AND s.created_at < now() - make_interval(secs => greatest(p_pending_seconds, 300))
            LIMIT p_batch)
       AND status = 'pending';
    GET DIAGNOSTICS stale_launches = ROW_COUNT;
END $$;
