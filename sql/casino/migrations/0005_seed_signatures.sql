-- Signatures v2 (docs/protocol.md §2): callbacks are signed over `t.METHOD.path.body`. The
-- seed design's scheme (the bare hex HMAC of the body alone, binding neither endpoint nor time)
-- is still accepted from a provider whose row says so, for a partner that has not moved yet.
-- Off by default, so off for every existing (seeded) row; docs/protocol.md §10.4 says how the
-- receiver knows the provider before it parses the body, docs/security.md what the mode exposes.
ALTER TABLE casino_game_providers
    ADD COLUMN accepts_seed_signatures BOOLEAN NOT NULL DEFAULT false;
