"""agentbudget: run-level cost budgets for AI agents (Python binding of libagentbudget).

    import agentbudget as ab

    ledger = ab.Ledger()                      # $AGENTBUDGET_LEDGER, else "agentbudget"
    with ledger.run("task-42", budget="2.50", labels={"agent": "researcher"}) as run:
        run.check()                           # BudgetExceeded(reason="run_hard_limit") once spent
        resp = client.messages.create(...)
        run.charge_usage(resp.model, resp.usage)

Money is exact: amounts are integer nano-USD in the ledger; ``str`` and ``Decimal`` amounts
are parsed exactly, floats rounded to the nearest nano, and negative, NaN, infinite or absurd
amounts raise :class:`InvalidAmount` before the ledger is touched.
"""
from ._native import NANOS_PER_USD, library_path
from .errors import (AgentBudgetError, BudgetExceeded, Busy, InvalidAmount, InvalidArgument, InvalidLabels,
                     InvalidRunId, InvalidUsage, NoLedger, RunClosed, StaleHandle, UnknownModel)
from .ledger import (ChargeResult, Hold, Ledger, PoolStatus, Run, RunStatus, budgeted, fingerprint)
from .money import nanos_to_usd, usd_to_nanos
from .usage import ANTHROPIC, OPENAI, TokenUsage, parse_usage
from . import _native

__version__ = _native.lib.ab_version_string().decode()

__all__ = [
    "Ledger", "Run", "Hold", "ChargeResult", "RunStatus", "PoolStatus", "TokenUsage",
    "AgentBudgetError", "BudgetExceeded", "InvalidAmount", "InvalidArgument", "InvalidRunId", "InvalidUsage",
    "InvalidLabels", "NoLedger", "RunClosed", "UnknownModel", "StaleHandle", "Busy",
    "budgeted", "fingerprint", "parse_usage", "usd_to_nanos", "nanos_to_usd", "library_path",
    "NANOS_PER_USD", "OPENAI", "ANTHROPIC",
]
