"""POST /casino/debitCredit: signed provider callback, a whole round in one call (docs/protocol.md §4b)."""

from seamless.casino import ledger
from seamless.casino.handlers import casino_callback
from seamless.contract.models import DebitCreditRequest

lambda_handler = casino_callback(DebitCreditRequest, ledger.debit_credit)
