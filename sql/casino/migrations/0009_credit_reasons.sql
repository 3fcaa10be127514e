-- Credit reasons (issue 25, docs/protocol.md §4b, §5): a credit says why it pays - a win (the
-- default), a jackpot, a promotion, a tournament or a free round - and names its campaign
-- (promotion_id) or free-round grant (grant_id). NULL reason on a credit is a plain win: every
-- row written before this migration, and every plain win after it, so no stored hash changes
-- (neither the idempotency hash, ledger.credit_hash, nor the chain's row_hash).

ALTER TABLE casino_transactions
    ADD COLUMN reason TEXT CHECK (reason IN ('jackpot', 'promotion', 'tournament', 'freeRound')),
    ADD COLUMN promotion_id TEXT CHECK (promotion_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    ADD COLUMN grant_id TEXT CHECK (grant_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    ADD CONSTRAINT casino_transactions_reason_names_its_source CHECK (
        (reason IS NULL AND promotion_id IS NULL AND grant_id IS NULL)
        OR (reason IN ('jackpot', 'promotion', 'tournament') AND kind = 'credit'
            AND promotion_id IS NOT NULL AND grant_id IS NULL)
        OR (reason = 'freeRound' AND kind = 'credit' AND grant_id IS NOT NULL AND promotion_id IS NULL));

-- The casino's registry of bonus-funded promotions (§4b's funding rule, §8): a payout naming
-- a promotionId registered here is all bonus; any other promotionId is cash (redeemable).
CREATE TABLE casino_promotions (
    promotion_id TEXT PRIMARY KEY CHECK (promotion_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    funding      TEXT NOT NULL CHECK (funding IN ('bonus', 'cash')),
    description  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO casino_promotions (promotion_id, funding, description)
VALUES ('promo-bonus-1', 'bonus', 'seed: a bonus-funded promotion (docs/protocol.md §8)');

-- The chain carries the stored reason (§6 recipe's member `reason`, NULL for every row written
-- before: their row hashes are unchanged).
CREATE OR REPLACE FUNCTION casino_chain_hash_of(t public.casino_transactions, p_currency TEXT) RETURNS TEXT  -- noqa: CP05
LANGUAGE sql STABLE AS $$
    SELECT public.casino_chain_row_hash(t.prev_hash, t.wallet_id, t.seq, t.transaction_id, t.kind, t.status, t.amount,
                                 pg_catalog.abs(t.redeemable_delta), t.balance_after, pg_catalog.rtrim(p_currency), t.user_id,
                                 t.round_id, t.reason, t.error_code, t.created_at)
$$;

-- Free-round grants (§4b): recorded by POST /casino/freeRounds before the provider is called
-- (status 'pending'), 'active' once the provider accepted it, 'failed' when it did not (never
-- usable), 'cancelled' by POST /casino/freeRounds/{grantId}/cancel. 'expired' and 'used' are
-- derived when listed (expires_at passed; rounds_played = rounds). A free-round credit is
-- accepted on a session of the grant's player, game and currency while rounds_played < rounds,
-- after expiry and cancel too (a round started in time is owed money); rounds_played and
-- won_amount move in the credit's own transaction (ledger.credit).
CREATE TABLE casino_free_round_grants (
    grant_id       TEXT PRIMARY KEY CHECK (grant_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    user_id        UUID NOT NULL REFERENCES casino_users (id),
    wallet_id      BIGINT NOT NULL REFERENCES casino_wallets (id),
    game_id        UUID NOT NULL REFERENCES casino_games (id),
    provider_id    BIGINT NOT NULL REFERENCES casino_game_providers (id),
    currency       TEXT NOT NULL,
    rounds         INT NOT NULL CHECK (rounds BETWEEN 1 AND 1000),
    bet_amount     BIGINT NOT NULL CHECK (bet_amount >= 1),
    expires_at     TIMESTAMPTZ NOT NULL,
    fund           TEXT NOT NULL DEFAULT 'bonus' CHECK (fund IN ('bonus', 'cash')),
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'failed', 'cancelled')),
    rounds_played  INT NOT NULL DEFAULT 0,
    won_amount     BIGINT NOT NULL DEFAULT 0 CHECK (won_amount >= 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at   TIMESTAMPTZ,
    CONSTRAINT casino_free_round_grants_rounds_played CHECK (rounds_played BETWEEN 0 AND rounds)
);
CREATE INDEX casino_free_round_grants_user ON casino_free_round_grants (user_id, created_at DESC);
