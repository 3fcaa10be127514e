-- Currencies as data (issue 24, docs/protocol.md §1, §4, §8): every currency the casino
-- serves is a row with its exponent (how many minor units make one major unit), and bet
-- limits are kept per game AND currency, in that currency's minor units. Nothing divides by
-- 100: a number is shown to a person only through its currency's exponent (docs/currencies.md).

CREATE TABLE casino_currencies (
    code      TEXT PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9]{2,4}$'),
    -- ISO 4217's minor-unit exponent for fiat; the casino's choice for others (BTC 8, USDT 6)
    exponent  SMALLINT NOT NULL CHECK (exponent BETWEEN 0 AND 18),
    name      TEXT NOT NULL
);
INSERT INTO casino_currencies (code, exponent, name) VALUES
    ('USD', 2, 'US dollar'),
    ('EUR', 2, 'Euro'),
    ('JPY', 0, 'Japanese yen'),
    ('KWD', 3, 'Kuwaiti dinar'),
    ('BTC', 8, 'Bitcoin');
-- A currency an existing wallet holds is kept serving (with ISO 4217's usual exponent of 2
-- if it is not one of the above: an operator corrects it before the first launch in it).
INSERT INTO casino_currencies (code, exponent, name)
SELECT DISTINCT
       currency::TEXT AS code,
       2 AS exponent,
       currency::TEXT AS name
  FROM casino_wallets
ON CONFLICT (code) DO NOTHING;

-- Codes of 3 to 5 characters (§1): CHAR(3) becomes TEXT, the pattern and the currency table
-- say what fits.
ALTER TABLE casino_wallets DROP CONSTRAINT IF EXISTS casino_wallets_currency_check;
ALTER TABLE casino_wallets ALTER COLUMN currency TYPE TEXT;
ALTER TABLE casino_wallets
    ADD CONSTRAINT casino_wallets_currency_fkey FOREIGN KEY (currency) REFERENCES casino_currencies (code);
ALTER TABLE casino_game_sessions ALTER COLUMN currency TYPE TEXT;
ALTER TABLE casino_game_sessions
    ADD CONSTRAINT casino_game_sessions_currency_fkey FOREIGN KEY (currency) REFERENCES casino_currencies (code);

-- Bet limits per game and currency. A game without a row for a currency does not serve it:
-- launchGame answers 409 CURRENCY_NOT_SUPPORTED, and a debit on a session that somehow has
-- none is refused BET_LIMIT_EXCEEDED (ledger.session_by_token). casino_games.min_bet/max_bet
-- are no longer read by any check; existing games keep their old limits for every currency a
-- wallet held when this ran (what they accepted before).
CREATE TABLE casino_game_limits (
    game_id   UUID NOT NULL REFERENCES casino_games (id),
    currency  TEXT NOT NULL REFERENCES casino_currencies (code),
    min_bet   BIGINT NOT NULL CHECK (min_bet >= 1),
    max_bet   BIGINT NOT NULL,
    PRIMARY KEY (game_id, currency),
    CHECK (max_bet >= min_bet)
);
INSERT INTO casino_game_limits (game_id, currency, min_bet, max_bet)
SELECT
       g.id,
       c.currency,
       g.min_bet,
       g.max_bet
  FROM casino_games AS g
 CROSS JOIN (SELECT DISTINCT currency::TEXT AS currency FROM casino_wallets) AS c;
