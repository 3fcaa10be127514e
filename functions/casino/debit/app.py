"""POST /casino/debit: signed provider callback (PROTOCOL §4)."""
from wallet_common import ledger
from wallet_common.http import casino_callback
from wallet_common.models import DebitRequest

lambda_handler = casino_callback(DebitRequest, ledger.debit)
