"""Every SQL statement the Lambda code sends, in one place, always parameterised.

The casino's money rules are PL/pgSQL functions (sql/migrations/0002_ledger.sql); each
callback is one call: one round trip, one transaction.
"""

GET_BALANCE = "SELECT status, body, replayed FROM casino_get_balance(%s)"
DEBIT = "SELECT status, body, replayed FROM casino_debit(%s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replayed FROM casino_credit(%s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replayed FROM casino_rollback(%s, %s, %s, %s)"
