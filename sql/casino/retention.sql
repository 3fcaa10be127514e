-- The casino's retention (docs/retention.md, docs/protocol.md §5), re-created by every
-- `migrate` and run by CasinoRetentionFunction (daily) or `python -m devtools purge`, as the
-- casino role (SECURITY INVOKER: it needs nothing the role does not already have).
--
-- What it never touches: the ledger (casino_transactions: stored outcomes and the money
-- record; growth is managed by partitions, not deletes), rounds (a round's has_credit and
-- closed flags are what refuse a late rollback or debit in a settled round), sessions' rows
-- (the ledger references them; their tokens are stored only as SHA-256 hashes).
--
-- What it purges, one batch per call (the caller repeats until nothing is left):
-- - bet claims of kind 'bet' older than p_claim_seconds (at least 1 hour): a claim only
--   serialises a debit with a racing rollback; once that debit committed, its ledger row
--   (same transaction) answers every later debit, rollback and credit naming it.
-- - tombstones older than p_tombstone_days (at least 120 days, the stored outcomes' minimum):
--   until then a late debit with that id is refused BET_ROLLED_BACK.
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
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM casino_bet_claims
     WHERE (provider_id, transaction_id) IN (
           SELECT c.provider_id, c.transaction_id FROM casino_bet_claims c
            WHERE c.claimed_by = 'bet' AND c.created_at < now() - make_interval(secs => greatest(p_claim_seconds, 3600))
            LIMIT p_batch);
    GET DIAGNOSTICS bet_claims = ROW_COUNT;

    DELETE FROM casino_bet_claims
     WHERE (provider_id, transaction_id) IN (
           SELECT c.provider_id, c.transaction_id FROM casino_bet_claims c
            WHERE c.claimed_by = 'tombstone' AND c.created_at < now() - make_interval(days => greatest(p_tombstone_days, 120))
            LIMIT p_batch);
    GET DIAGNOSTICS tombstones = ROW_COUNT;

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
