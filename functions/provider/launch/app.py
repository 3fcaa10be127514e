"""POST /provider/launch: signed casino -> provider call (PROTOCOL §7)."""
from wallet_common import provider
from wallet_common.http import json_endpoint
from wallet_common.models import ProviderLaunchRequest
from wallet_common.signing import PROVIDER_SIGNATURE_HEADER

lambda_handler = json_endpoint(ProviderLaunchRequest, provider.launch,
                               signature_header=PROVIDER_SIGNATURE_HEADER, secret_name="provider_secret")
