-- Free rounds at the provider (issue 25, docs/protocol.md §7): the grants a casino made
-- (POST /provider/freeRounds, idempotent by grantId) and the round player's free-round and
-- payout actions.

CREATE TABLE provider_free_round_grants (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    casino_id          BIGINT NOT NULL REFERENCES provider_casinos (id),
    grant_id           TEXT NOT NULL CHECK (grant_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    casino_user_id     BIGINT NOT NULL REFERENCES provider_casino_users (id),
    game_id            BIGINT NOT NULL REFERENCES provider_games (id),
    currency           TEXT NOT NULL,
    currency_decimals  INT,
    rounds             INT NOT NULL CHECK (rounds BETWEEN 1 AND 1000),
    bet_amount         BIGINT NOT NULL CHECK (bet_amount >= 1),
    expires_at         TIMESTAMPTZ NOT NULL,
    -- the grant's request as first accepted (normalised JSON): the same body again is the same
    -- grant, another one a TRANSACTION_ID_CONFLICT
    request            JSONB NOT NULL,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    -- rounds the round player started (each owes one closing credit): never more than rounds
    rounds_started     INT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at       TIMESTAMPTZ,
    UNIQUE (casino_id, grant_id),
    CONSTRAINT provider_free_round_grants_rounds_started CHECK (rounds_started BETWEEN 0 AND rounds)
);

ALTER TABLE provider_bets DROP CONSTRAINT IF EXISTS provider_bets_action_type_check;
ALTER TABLE provider_bets
    ADD CONSTRAINT provider_bets_action_type_check
    CHECK (action_type IN ('bet', 'win', 'rollback', 'close', 'betWin', 'payout', 'freeRound'));

-- The free rounds started: one row per (grant, roundId), written with the count in one
-- transaction by the round player's gate, so a replayed roundId is the same free round.
CREATE TABLE provider_free_round_plays (
    grant_pk    BIGINT NOT NULL REFERENCES provider_free_round_grants (id),
    round_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (grant_pk, round_id)
);
