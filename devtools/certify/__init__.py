"""Wallet certification: the contract's scenario suite run against any casino wallet that
speaks this protocol (docs/protocol.md §1-§5), with a Markdown, JSON and HTML report.

`python -m devtools certify --help`; `make certify` runs it against the local API. A client
of the contract only: it imports `seamless.contract` and nothing of the casino or provider.
"""

from .suite import CHECKS, Config, LaunchConfig, RunResult, run

__all__ = ["CHECKS", "Config", "LaunchConfig", "RunResult", "run"]
