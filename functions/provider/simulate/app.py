"""POST /provider/simulate: signed casino -> provider call; plays a round (docs/protocol.md §7)."""

from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import rounds
from seamless.provider.handlers import signed_endpoint

lambda_handler = signed_endpoint(ProviderSimulateRequest, rounds.simulate)
