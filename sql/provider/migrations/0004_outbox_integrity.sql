-- Settlement outcomes and outbox integrity (docs/protocol.md §7a; docs/settlement.md).
--
-- integrity_tag: HMAC-SHA256 over the row's canonical identity and payload (its round and
-- that round's session, index, type, endpoint, transactionId, amount, payload, rescue),
-- made with a key derived from the provider's signing secret, which this database never
-- holds. The settlement worker verifies it before it signs and sends a row; a row that
-- fails (inserted or changed by anyone holding only the database password) is parked.
-- integrity_key names the key a tag was made with (a digest of the key, not the key), so
-- rows tagged under the previous secret during a rotation can be found and re-tagged.
-- Rows recorded before this migration have no tag: they are parked if they are still to
-- be sent (docs/protocol.md §10.7).
--
-- send_started_at: set (with the lease renewed, in one statement) just before the first
-- attempt of a row is made. A bet without it never reached the casino, so it is sent in its
-- turn instead of being compensated (§7a: only a bet an attempt was started for is
-- compensated).
ALTER TABLE provider_bets
    ADD COLUMN integrity_tag TEXT,
    ADD COLUMN integrity_key TEXT,
    ADD COLUMN send_started_at TIMESTAMPTZ;

-- Rows attempted before this migration count as started, and so do undelivered ones (their
-- worker may have been sending when it stopped: the rule before this migration).
UPDATE provider_bets SET send_started_at = updated_at
 WHERE jsonb_array_length(attempts) > 0 OR state IN ('pending', 'queued');

-- The re-tag pass after a rotation looks for undelivered rows by key.
CREATE INDEX provider_bets_integrity_key ON provider_bets (integrity_key)
    WHERE state IN ('pending', 'queued', 'parked');
