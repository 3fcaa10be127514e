"""POST /casino/rollback: signed provider callback (PROTOCOL §4)."""
from wallet_common import ledger
from wallet_common.http import casino_callback
from wallet_common.models import RollbackRequest

lambda_handler = casino_callback(RollbackRequest, ledger.rollback)
