-- Currency codes of 3 to 5 characters (docs/protocol.md §1), and the exponent the casino's
-- launch gave the session (currencyDecimals, §6): the provider shows its money to a person
-- (the round page) only through it. NULL on sessions launched before this column (or by a
-- casino that did not send it): shown as bare minor units.
ALTER TABLE provider_sessions ALTER COLUMN currency TYPE TEXT;
ALTER TABLE provider_sessions
    ADD CONSTRAINT provider_sessions_currency_pattern CHECK (currency ~ '^[A-Z][A-Z0-9]{2,4}$');
ALTER TABLE provider_sessions ADD COLUMN currency_decimals SMALLINT CHECK (currency_decimals BETWEEN 0 AND 18);

-- A whole round in one call (§4b, §6): the round player records a betWin action (one
-- POST /casino/debitCredit) like any other.
ALTER TABLE provider_bets DROP CONSTRAINT IF EXISTS provider_bets_action_type_check;
ALTER TABLE provider_bets
    ADD CONSTRAINT provider_bets_action_type_check CHECK (action_type IN ('bet', 'win', 'rollback', 'close', 'betWin'));
