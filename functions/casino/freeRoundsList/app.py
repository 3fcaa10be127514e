"""GET /casino/freeRounds?userId=…: a player's free-round grants, newest first (docs/protocol.md
§4b); behind the operator API key when deployed."""

from seamless.casino.free_rounds import list_grants
from seamless.casino.handlers import operator_query
from seamless.contract.models import GrantsQuery

lambda_handler = operator_query(GrantsQuery, list_grants)
