"""The least-privilege table of docs/security.md, as data: which Secrets Manager secrets each
function of template.yaml may read. tests/unit/test_template_security.py checks the source
template against it and scripts/check_template.py the SAM-transformed one (IAM policies and
environment), so a function that gains a secret does so here, on purpose, with a review."""

from __future__ import annotations

#: the template's secret resources (or parameter) -> the environment variable naming its ARN
SECRET_ENV = {
    "CasinoHmacSecret": "CASINO_SECRET_ARN",
    "ProviderHmacSecret": "PROVIDER_SECRET_ARN",
    "CasinoDatabaseSecret": "CASINO_DATABASE_SECRET_ARN",
    "ProviderDatabaseSecret": "PROVIDER_DATABASE_SECRET_ARN",
    "DatabaseAdminSecretArn": "DATABASE_SECRET_ARN",
}

_CASINO_CALLBACK = frozenset({"CasinoHmacSecret", "CasinoDatabaseSecret"})  # verify, then the ledger
_CASINO_OPERATOR = frozenset({"ProviderHmacSecret", "CasinoDatabaseSecret"})  # sign calls to the provider

#: function logical id -> the secrets it reads, and nothing else
SECRETS_BY_FUNCTION: dict[str, frozenset[str]] = {
    "GetBalanceFunction": _CASINO_CALLBACK,
    "DebitFunction": _CASINO_CALLBACK,
    "DebitCreditFunction": _CASINO_CALLBACK,
    "CreditFunction": _CASINO_CALLBACK,
    "RollbackFunction": _CASINO_CALLBACK,
    "LaunchGameFunction": _CASINO_OPERATOR,
    "SimulateRoundFunction": _CASINO_OPERATOR,
    # free-round grants: the grant and its cancel call the provider signed; the list reads only
    "FreeRoundsGrantFunction": _CASINO_OPERATOR,
    "FreeRoundsCancelFunction": _CASINO_OPERATOR,
    "FreeRoundsListFunction": frozenset({"CasinoDatabaseSecret"}),
    # verify the casino's grant and cancel calls
    "ProviderFreeRoundsFunction": frozenset({"ProviderHmacSecret", "ProviderDatabaseSecret"}),
    "ProviderFreeRoundsCancelFunction": frozenset({"ProviderHmacSecret", "ProviderDatabaseSecret"}),
    # verifies the casino's call
    "ProviderLaunchFunction": frozenset({"ProviderHmacSecret", "ProviderDatabaseSecret"}),
    # verifies the casino's call and signs its callbacks
    "ProviderSimulateFunction": frozenset({"ProviderHmacSecret", "CasinoHmacSecret", "ProviderDatabaseSecret"}),
    # sign the owed callbacks they deliver from the provider's outbox, and the sweeper's closes
    "SettlementFunction": frozenset({"CasinoHmacSecret", "ProviderDatabaseSecret"}),
    "RoundSweeperFunction": frozenset({"CasinoHmacSecret", "ProviderDatabaseSecret"}),
    # open endpoint: only its database, no signing secret
    "ProviderHealthFunction": frozenset({"ProviderDatabaseSecret"}),
    # support lookups (behind the operator API key): each side's database only, no signing secret
    "TransactionsFunction": frozenset({"CasinoDatabaseSecret"}),
    "ProviderRoundsFunction": frozenset({"ProviderDatabaseSecret"}),
    # admin for the schema; the two role secrets only to set the roles' passwords
    "MigrateFunction": frozenset({"DatabaseAdminSecretArn", "CasinoDatabaseSecret", "ProviderDatabaseSecret"}),
    # each side's retention job: its own database only
    "CasinoRetentionFunction": frozenset({"CasinoDatabaseSecret"}),
    "ProviderRetentionFunction": frozenset({"ProviderDatabaseSecret"}),
    # the ledger's hash chains (docs/records.md): the auditor's export (IAM) and the daily anchor
    "LedgerExportFunction": frozenset({"CasinoDatabaseSecret"}),
    "LedgerAnchorFunction": frozenset({"CasinoDatabaseSecret"}),
}
