"""POST /provider/simulate: signed casino -> provider call; plays a round (PROTOCOL §7)."""
from wallet_common import provider
from wallet_common.http import json_endpoint
from wallet_common.models import ProviderSimulateRequest
from wallet_common.signing import PROVIDER_SIGNATURE_HEADER

lambda_handler = json_endpoint(ProviderSimulateRequest, provider.simulate,
                               signature_header=PROVIDER_SIGNATURE_HEADER, secret_name="provider_secret")
