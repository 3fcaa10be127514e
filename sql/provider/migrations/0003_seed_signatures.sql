-- Signatures v2 (docs/protocol.md §2): casino -> provider calls are signed over
-- `t.METHOD.path.body`. The seed design's scheme (the bare hex HMAC of the body alone) is still
-- accepted from a casino whose row says so, for a partner that has not moved yet. Off by
-- default, so off for every existing (seeded) row (docs/protocol.md §10.4, docs/security.md).
ALTER TABLE provider_casinos
    ADD COLUMN accepts_seed_signatures BOOLEAN NOT NULL DEFAULT false;
