"""POST /provider/launch: signed casino -> provider call (docs/protocol.md §7)."""

from seamless.contract.models import ProviderLaunchRequest
from seamless.provider import launch
from seamless.provider.handlers import signed_endpoint

lambda_handler = signed_endpoint(ProviderLaunchRequest, launch.launch)
