"""POST /casino/simulateRound: test driver; plays a whole round across both services (PROTOCOL §6)."""
from wallet_common.casino import simulate_round
from wallet_common.http import json_endpoint
from wallet_common.models import SimulateRoundRequest

lambda_handler = json_endpoint(SimulateRoundRequest, simulate_round)
