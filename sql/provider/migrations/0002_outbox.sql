-- The reference provider's outbox (docs/protocol.md §7a): every callback of a round is a row
-- of provider_bets, recorded before it is sent and delivered strictly in the round's order
-- (id order within a round). A round's status says where it stands:
--   open                the round player (or the sweeper) is playing it
--   pending_settlement  an action is undecided: the rest is delivered by durable settlement
--   completed           every action has its final answer and a credit closed the round
--   cancelled           the round was compensated (its bets rolled back) or nothing stands
-- A row's state: pending (recorded, no final answer yet), delivered (final answer), queued
-- (durable settlement delivers it), cancelled (never to be sent), parked (owed money without
-- an OK answer, or undelivered at the horizon: listed for an operator), resolved (an operator
-- closed a parked row).

-- A round id names one round per provider: a replay-safe re-run plays the same row again.
-- Rows of a database that already holds several runs of one round id keep their history
-- under a suffixed id.
UPDATE provider_game_rounds AS r
   SET round_id = r.round_id || ':run:' || r.id
 WHERE r.id <> (SELECT min(f.id) FROM provider_game_rounds AS f
                 WHERE f.round_id = r.round_id);
DROP INDEX provider_game_rounds_round;
CREATE UNIQUE INDEX provider_game_rounds_round ON provider_game_rounds (round_id);

ALTER TABLE provider_game_rounds
    ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'pending_settlement', 'completed', 'cancelled')),
    -- who may work on the round until when: the round player, a settlement drainer or the
    -- sweeper takes a lease instead of holding a transaction open across HTTP calls
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_until TIMESTAMPTZ,
    -- durable delivery stops (and parks what is left) at this time
    ADD COLUMN settle_by TIMESTAMPTZ,
    ADD COLUMN runs INT NOT NULL DEFAULT 1,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE provider_game_rounds SET status = 'completed'
 WHERE finished_at IS NOT NULL;
CREATE INDEX provider_game_rounds_unfinished ON provider_game_rounds (updated_at)
    WHERE status IN ('open', 'pending_settlement');

-- One row per callback of a round (a duplicate send or a retry is an attempt of that row).
DELETE FROM provider_bets AS b
 WHERE b.id <> (SELECT min(f.id) FROM provider_bets AS f
                 WHERE f.game_round_id = b.game_round_id
                   AND f.transaction_id = b.transaction_id);
ALTER TABLE provider_bets
    ADD COLUMN state TEXT NOT NULL DEFAULT 'delivered'
        CHECK (state IN ('pending', 'delivered', 'queued', 'cancelled', 'parked', 'resolved')),
    -- the request's fields without sessionToken (read from provider_sessions when sent)
    ADD COLUMN payload JSONB,
    -- a rollback the provider added to compensate an undecided debit
    ADD COLUMN rescue BOOLEAN NOT NULL DEFAULT false,
    -- sent only while a bet of the round stands (the closing credit of a bets/wins/rollbacks
    -- round, docs/protocol.md §6); cancelled otherwise
    ADD COLUMN needs_standing_bet BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN next_attempt_at TIMESTAMPTZ,
    ADD COLUMN delivered_at TIMESTAMPTZ,
    ADD COLUMN note TEXT,
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE provider_bets ALTER COLUMN state SET DEFAULT 'pending';
CREATE UNIQUE INDEX provider_bets_round_txid ON provider_bets (game_round_id, transaction_id);
DROP INDEX provider_bets_round;
CREATE INDEX provider_bets_due ON provider_bets (next_attempt_at) WHERE state = 'queued';
CREATE INDEX provider_bets_parked ON provider_bets (updated_at) WHERE state = 'parked';
CREATE INDEX provider_bets_transaction ON provider_bets (transaction_id);
