"""POST /casino/freeRounds: operator call; grants a player free rounds through the provider
(docs/protocol.md §4b)."""

from seamless.casino.free_rounds import grant
from seamless.casino.handlers import operator_endpoint
from seamless.contract.models import FreeRoundsGrantRequest

lambda_handler = operator_endpoint(FreeRoundsGrantRequest, grant)
