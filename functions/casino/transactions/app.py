"""GET /casino/transactions: support and reconciliation lookup by transactionId and/or roundId
(docs/protocol.md §6); behind the operator API key when deployed."""

from seamless.casino.handlers import operator_query
from seamless.casino.transactions import lookup
from seamless.contract.models import TransactionsQuery

lambda_handler = operator_query(TransactionsQuery, lookup)
