-- The casino's schema (casino_*). The provider's tables (provider_*) live in the same
-- database but neither side touches the other's (docs/protocol.md §9): sql/casino/grants.sql
-- and sql/provider/grants.sql give each side's role its own tables only.
--
-- Money is BIGINT minor units everywhere. The database, not the code, keeps every
-- wallet non-negative and its redeemable part within its playable balance.

CREATE TABLE casino_users (
    id          UUID PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE casino_wallets (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES casino_users (id),
    currency            CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    playable_balance    BIGINT NOT NULL DEFAULT 0,
    redeemable_balance  BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, currency),
    CONSTRAINT playable_balance_non_negative CHECK (playable_balance >= 0),
    CONSTRAINT redeemable_within_playable CHECK (redeemable_balance BETWEEN 0 AND playable_balance)
);

CREATE TABLE casino_game_providers (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    api_base_url  TEXT NOT NULL,
    -- Where the shared HMAC secret lives (an env var name or a Secrets Manager ARN);
    -- never the secret itself.
    secret_ref    TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE casino_games (
    id                UUID PRIMARY KEY,
    provider_id       BIGINT NOT NULL REFERENCES casino_game_providers (id),
    provider_game_id  TEXT NOT NULL,
    name              TEXT NOT NULL,
    min_bet           BIGINT NOT NULL CHECK (min_bet >= 1),
    max_bet           BIGINT NOT NULL,
    active            BOOLEAN NOT NULL DEFAULT true,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider_id, provider_game_id),
    CHECK (max_bet >= min_bet)
);

CREATE TABLE casino_game_sessions (
    id                   UUID PRIMARY KEY,
    -- SHA-256 of the session token: the token itself is never stored.
    token_hash           BYTEA NOT NULL UNIQUE,
    user_id              UUID NOT NULL REFERENCES casino_users (id),
    wallet_id            BIGINT NOT NULL REFERENCES casino_wallets (id),
    game_id              UUID NOT NULL REFERENCES casino_games (id),
    provider_id          BIGINT NOT NULL REFERENCES casino_game_providers (id),
    currency             CHAR(3) NOT NULL,
    -- pending: created, provider not yet answered; active: usable; failed: the provider
    -- refused the launch, the session is unusable.
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'failed')),
    provider_session_id  TEXT,
    launch_url           TEXT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX casino_game_sessions_user ON casino_game_sessions (user_id);

-- A round is (provider, roundId); it belongs to the session of its first accepted
-- debit or credit. Every money callback locks its round row, which serialises all
-- work on one round (credit vs rollback races).
CREATE TABLE casino_rounds (
    provider_id  BIGINT NOT NULL REFERENCES casino_game_providers (id),
    round_id     TEXT NOT NULL,
    session_id   UUID NOT NULL REFERENCES casino_game_sessions (id),
    wallet_id    BIGINT NOT NULL REFERENCES casino_wallets (id),
    has_credit   BOOLEAN NOT NULL DEFAULT false,
    closed       BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, round_id)
);

-- The ledger and the idempotency store in one append-only table: one row per provider
-- transactionId (unique per provider), holding the normalised request hash and the exact
-- response that was sent. Accepted rows carry the money movement and the balances after
-- it; rejected rows (stored business rejections) move nothing.
-- Opening deposits are rows of kind 'deposit' with no provider.
CREATE TABLE casino_transactions (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id         BIGINT REFERENCES casino_game_providers (id),
    transaction_id      TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('deposit', 'debit', 'credit', 'rollback')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    request_hash        BYTEA,
    session_id          UUID REFERENCES casino_game_sessions (id),
    user_id             UUID REFERENCES casino_users (id),
    wallet_id           BIGINT REFERENCES casino_wallets (id),
    round_id            TEXT,
    bet_transaction_id  TEXT,
    round_closed        BOOLEAN NOT NULL DEFAULT false,
    tombstone           BOOLEAN NOT NULL DEFAULT false,
    amount              BIGINT NOT NULL DEFAULT 0 CHECK (amount >= 0),
    -- signed changes applied to the wallet by this row (0 on rejected rows)
    playable_delta      BIGINT NOT NULL DEFAULT 0,
    redeemable_delta    BIGINT NOT NULL DEFAULT 0,
    balance_after       BIGINT,
    redeemable_after    BIGINT,
    error_code          TEXT,
    response_status     INT,
    response_body       TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status <> 'rejected' OR (playable_delta = 0 AND redeemable_delta = 0)),
    CHECK (kind = 'deposit' OR provider_id IS NOT NULL)
);
CREATE UNIQUE INDEX casino_transactions_provider_txid ON casino_transactions (provider_id, transaction_id);
CREATE INDEX casino_transactions_wallet ON casino_transactions (wallet_id);
CREATE INDEX casino_transactions_bet ON casino_transactions (provider_id, bet_transaction_id)
    WHERE bet_transaction_id IS NOT NULL;
CREATE INDEX casino_transactions_round ON casino_transactions (provider_id, round_id)
    WHERE round_id IS NOT NULL;

-- Who owns a bet transactionId: the debit that carries it, or a rollback that arrived
-- first and left a tombstone. Both sides insert here, so a debit and a rollback racing
-- on the same id are serialised by this primary key: whichever commits first wins.
CREATE TABLE casino_bet_claims (
    provider_id     BIGINT NOT NULL REFERENCES casino_game_providers (id),
    transaction_id  TEXT NOT NULL,
    claimed_by      TEXT NOT NULL CHECK (claimed_by IN ('bet', 'tombstone')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, transaction_id)
);

-- HTTP status and message of every stored contract error; written by `migrate` from
-- the Python error catalogue (wallet_common/errors.py), the single source of truth.
CREATE TABLE casino_error_catalog (
    code         TEXT PRIMARY KEY,
    http_status  INT NOT NULL,
    message      TEXT NOT NULL
);
