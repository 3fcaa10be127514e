"""Every SQL statement the casino sends, in one place, always parameterised (casino role;
never touches provider_* tables).

The casino's money rules are PL/pgSQL functions (sql/casino/functions/); each callback is
one call: one round trip, one transaction.
"""

GET_BALANCE = "SELECT status, body, replayed FROM ledger.get_balance(%s)"
DEBIT = "SELECT status, body, replayed FROM ledger.debit(%s, %s, %s, %s, %s, %s)"
CREDIT = "SELECT status, body, replayed FROM ledger.credit(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
ROLLBACK = "SELECT status, body, replayed FROM ledger.rollback(%s, %s, %s, %s, %s)"

# ------------------------------------------------------------------ casino: sessions
# (casino role; never touches provider_* tables)

# launchGame's session writes are ledger functions too (sql/casino/functions/50_sessions.sql):
# casino_app writes no table itself. open_session checks player, wallet and game and creates the
# pending session, its expiry computed by the database from the TTL asked for.
OPEN_SESSION = """
SELECT code, provider_game_id, api_base_url, secret_ref, expires_at, currency_decimals
  FROM ledger.open_session(p_session_id => %(id)s, p_token_hash => %(token_hash)s, p_user => %(user_id)s,
                           p_game => %(game_id)s, p_currency => %(currency)s, p_ttl_seconds => %(ttl)s)
"""

ACTIVATE_SESSION = """
SELECT ledger.activate_session(p_session_id => %(id)s, p_provider_session_id => %(provider_session_id)s,
                               p_launch_url => %(launch_url)s)
"""

FAIL_SESSION = "SELECT ledger.fail_session(p_session_id => %s)"

SESSION_BALANCE = """
SELECT w.playable_balance FROM casino_game_sessions s JOIN casino_wallets w ON w.id = s.wallet_id WHERE s.id = %s
"""

# ------------------------------------------------------------------ casino: transaction lookup
# (GET /casino/transactions, docs/protocol.md §6). Every provider's rows, through the
# provider table so the (provider_id, ...) indexes serve the lookup. Opening deposits and
# in-flight rows are not transactions of the protocol. A rollback that named no roundId is
# shown in its bet's round (and found by it). Never selects a session token or its hash.
# Pages: oldest first by (created_at, id), the rows after the cursor's (after_at, after_id)
# when one is given, at most %(rows)s of them (the caller asks for one more than a page, to
# know whether another page follows).

_TRANSACTION_COLUMNS = """
       t.id, t.transaction_id, t.kind, t.status, t.user_id::text AS user_id,
       COALESCE(t.round_id, b.round_id) AS round_id, t.amount, w.currency::text AS currency,
       t.bet_transaction_id, t.balance_after, t.error_code, t.created_at, p.api_base_url,
       abs(t.redeemable_delta) AS redeemable_amount,
       CASE WHEN t.kind = 'credit' THEN COALESCE(t.reason, 'win') END AS reason, t.promotion_id, t.grant_id
"""

_PAGE = """
   AND (%(after_at)s::timestamptz IS NULL OR (t.created_at, t.id) > (%(after_at)s::timestamptz, %(after_id)s::bigint))
 ORDER BY t.created_at, t.id
 LIMIT %(rows)s
"""

TRANSACTIONS_BY_ID = f"""
SELECT {_TRANSACTION_COLUMNS}
  FROM casino_game_providers p
  JOIN casino_transactions t ON t.provider_id = p.id AND t.transaction_id = %(transaction_id)s
  LEFT JOIN casino_wallets w ON w.id = t.wallet_id
  LEFT JOIN casino_transactions b
         ON t.round_id IS NULL AND b.provider_id = t.provider_id AND b.transaction_id = t.bet_transaction_id
 WHERE t.kind <> 'deposit' AND t.status <> 'pending'
   AND (%(round_id)s::text IS NULL OR COALESCE(t.round_id, b.round_id) = %(round_id)s::text)
{_PAGE}"""

TRANSACTIONS_BY_ROUND = f"""
WITH in_round AS (
    SELECT t.id
      FROM casino_game_providers p
      JOIN casino_transactions t ON t.provider_id = p.id AND t.round_id = %(round_id)s
    UNION
    SELECT r.id
      FROM casino_game_providers p
      JOIN casino_transactions bet ON bet.provider_id = p.id AND bet.round_id = %(round_id)s AND bet.kind = 'debit'
      JOIN casino_transactions r
        ON r.provider_id = p.id AND r.bet_transaction_id = bet.transaction_id AND r.round_id IS NULL
       AND r.kind = 'rollback'
)
SELECT {_TRANSACTION_COLUMNS}
  FROM in_round
  JOIN casino_transactions t ON t.id = in_round.id
  JOIN casino_game_providers p ON p.id = t.provider_id
  LEFT JOIN casino_wallets w ON w.id = t.wallet_id
  LEFT JOIN casino_transactions b
         ON t.round_id IS NULL AND b.provider_id = t.provider_id AND b.transaction_id = t.bet_transaction_id
 WHERE t.kind <> 'deposit' AND t.status <> 'pending'
{_PAGE}"""

#: whether the provider whose callbacks this deployment verifies may still sign the seed way
#: (docs/protocol.md §2, §10.4); read before the body is parsed, only for a seed-shaped header
SEED_SIGNATURES_ACCEPTED = """
SELECT accepts_seed_signatures FROM casino_game_providers WHERE code = %(code)s AND NOT disabled
"""

# GET /casino/ledger/export (docs/protocol.md §6, seamless/casino/ledger_export.py): ledger rows with
# their chain link and their wallet's currency. One wallet in seq order through the unique index
# (wallet_id, seq); a time range in the ledger's id order (per wallet the same as seq), between the
# first and last id of the range found once, on the first page, through the BRIN index on created_at.
EXPORT_COLUMNS = """t.id, t.wallet_id, t.seq, t.transaction_id, t.kind, t.status, t.amount, t.redeemable_delta,
       t.balance_after, w.currency::text AS currency, t.user_id, t.round_id, t.reason, t.error_code, t.created_at,
       t.prev_hash, t.row_hash"""
EXPORT_WALLET = "SELECT id FROM casino_wallets WHERE user_id = %(user_id)s AND currency = %(currency)s"
EXPORT_BY_WALLET = f"""
SELECT {EXPORT_COLUMNS}
  FROM casino_transactions t JOIN casino_wallets w ON w.id = t.wallet_id
 WHERE t.wallet_id = %(wallet_id)s AND t.seq > %(after)s
 ORDER BY t.seq
 LIMIT %(limit)s
"""
EXPORT_RANGE_BOUNDS = """
SELECT min(t.id), max(t.id) FROM casino_transactions t
 WHERE t.created_at >= %(from)s AND t.created_at < %(to)s AND t.wallet_id IS NOT NULL
"""
EXPORT_BY_RANGE = f"""
SELECT {EXPORT_COLUMNS}
  FROM casino_transactions t JOIN casino_wallets w ON w.id = t.wallet_id
 WHERE t.id > %(after)s AND t.id <= %(last)s AND t.created_at >= %(from)s AND t.created_at < %(to)s
 ORDER BY t.id
 LIMIT %(limit)s
"""

# ------------------------------------------------------------------ casino: one-call rounds
# (POST /casino/debitCredit, docs/protocol.md §4b; sql/casino/functions/25_debit_credit.sql)

DEBIT_CREDIT = "SELECT status, body, replayed FROM ledger.debit_credit(%s, %s, %s, %s, %s, %s, %s, %s, %s)"

# ------------------------------------------------------------------ casino: free-round grants
# (docs/protocol.md §4b; writes through sql/casino/functions/60_free_rounds.sql)

OPEN_GRANT = """
SELECT * FROM ledger.open_grant(p_grant_id => %(grant_id)s, p_user => %(user_id)s, p_game => %(game_id)s,
                                p_currency => %(currency)s, p_rounds => %(rounds)s, p_bet => %(bet)s,
                                p_expires => %(expires)s, p_fund => %(fund)s)
"""
SETTLE_GRANT = "SELECT ledger.settle_grant(%s, %s)"
CANCEL_GRANT = "SELECT ledger.cancel_grant(%s)"
LIST_GRANTS = """
SELECT grant_id, game_id, currency, rounds, rounds_played, won_amount, status, expires_at, now() AS now
  FROM casino_free_round_grants
 WHERE user_id = %(user_id)s AND status IN ('active', 'cancelled')
 ORDER BY created_at DESC, grant_id
"""
GRANT_FOR_CANCEL = """
SELECT g.status, p.api_base_url, p.secret_ref
  FROM casino_free_round_grants g JOIN casino_game_providers p ON p.id = g.provider_id
 WHERE g.grant_id = %(grant_id)s AND g.status IN ('active', 'cancelled')
"""
