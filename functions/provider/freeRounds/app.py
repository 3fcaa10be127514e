"""POST /provider/freeRounds: signed casino -> provider call recording a free-round grant,
idempotent by grantId (docs/protocol.md §7)."""

from seamless.contract.models import ProviderFreeRoundsRequest
from seamless.provider import free_rounds
from seamless.provider.handlers import signed_endpoint

lambda_handler = signed_endpoint(ProviderFreeRoundsRequest, free_rounds.grant)
