-- The reference provider's schema (provider_*). It never references a casino_* table: the
-- provider knows the casino only through the wire contract (docs/protocol.md §9).

CREATE TABLE provider_games (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT true,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE provider_casinos (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    callback_base_url  TEXT NOT NULL,
    secret_ref         TEXT NOT NULL,
    disabled           BOOLEAN NOT NULL DEFAULT false,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The provider's own customer for a casino player, and its game sessions.
CREATE TABLE provider_casino_users (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    casino_id         BIGINT NOT NULL REFERENCES provider_casinos (id),
    casino_player_id  TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (casino_id, casino_player_id)
);

CREATE TABLE provider_sessions (
    id                   TEXT PRIMARY KEY,
    casino_user_id       BIGINT NOT NULL REFERENCES provider_casino_users (id),
    game_id              BIGINT NOT NULL REFERENCES provider_games (id),
    currency             CHAR(3) NOT NULL,
    -- The casino's session token is needed to call back; it is kept only as long as
    -- the session is useful and never logged.
    casino_session_token TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE provider_game_rounds (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id             TEXT NOT NULL,
    provider_session_id  TEXT NOT NULL REFERENCES provider_sessions (id),
    starting_balance     BIGINT,
    final_balance        BIGINT,
    expected_final_balance BIGINT,
    consistent           BOOLEAN,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at          TIMESTAMPTZ
);
CREATE INDEX provider_game_rounds_round ON provider_game_rounds (round_id);

CREATE TABLE provider_bets (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game_round_id     BIGINT NOT NULL REFERENCES provider_game_rounds (id),
    action_index      INT NOT NULL,
    action_type       TEXT NOT NULL CHECK (action_type IN ('bet', 'win', 'rollback', 'close')),
    endpoint          TEXT NOT NULL,
    transaction_id    TEXT NOT NULL,
    amount            BIGINT NOT NULL,
    -- every attempt: [{"attempt": 1, "httpStatus": 503, "body": {...}, "error": null}, ...]
    attempts          JSONB NOT NULL DEFAULT '[]'::JSONB,
    final_status      INT,
    final_code        TEXT,
    casino_balance    BIGINT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX provider_bets_round ON provider_bets (game_round_id);
