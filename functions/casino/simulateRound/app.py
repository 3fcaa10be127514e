"""POST /casino/simulateRound: test driver; plays a whole round across both services (docs/protocol.md §6)."""

from seamless.casino.handlers import operator_endpoint
from seamless.casino.simulate_round import simulate_round
from seamless.contract.models import SimulateRoundRequest

lambda_handler = operator_endpoint(SimulateRoundRequest, simulate_round)
