"""The reference seamless-wallet integration, as two companies would ship it.

- ``contract``: what casino and provider share, as a published SDK would be: signing, the
  error table, the wire models, the signed HTTP client and the round-plan schema.
- ``casino``: the casino's wallet (ledger face, sessions and launch, the simulateRound test
  driver, its queries). Never imports ``provider``.
- ``provider``: the reference game provider - the counterparty, simulated but production
  grade (launch, round player, settlement, its casino client, its queries). Never imports
  ``casino``.
- ``runtime``: Lambda plumbing both deployables use: database access, settings, API Gateway
  event <-> response, observability, CloudFormation custom resources, migrations.

The boundaries are enforced by import-linter (``make lint``); see docs/decisions.md.
"""
