"""Exceptions. Every failure of the C ABI becomes an :class:`AgentBudgetError` that carries
the status code and its ``AB_ERR_*`` name; a denial by a limit is :class:`BudgetExceeded`
with the typed reason."""
from __future__ import annotations

from typing import Dict, Optional, Type

from . import _native as n


class AgentBudgetError(Exception):
    """A call into libagentbudget failed.

    Attributes:
        code: the status code (negative ``AB_ERR_*`` value, or ``AB_DENIED``).
        name: the code's macro name, e.g. ``"AB_ERR_NO_LEDGER"``.
        detail: extra detail from the library (``ab_last_error_detail``), or from the binding.
    """

    code: int
    name: str
    detail: str

    def __init__(self, code: int, detail: str = "", what: str = "") -> None:
        self.code = code
        self.name = n.status_name(code)
        self.detail = detail
        msg = f"{self.name}: {n.strerror(code)}"
        if what:
            msg = f"{what}: {msg}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class InvalidArgument(AgentBudgetError, ValueError):
    """``AB_ERR_INVALID_ARGUMENT``."""


class InvalidRunId(AgentBudgetError, ValueError):
    """``AB_ERR_INVALID_RUN_ID``: a run id must be 1-127 printable ASCII bytes."""


class InvalidAmount(AgentBudgetError, ValueError):
    """``AB_ERR_INVALID_AMOUNT``: negative, NaN, infinite, malformed, finer than a nano or
    above $1,000,000. Raised before the ledger is touched."""


class InvalidUsage(AgentBudgetError, ValueError):
    """``AB_ERR_INVALID_USAGE``: token counts that are inconsistent, negative or not integers."""


class InvalidLabels(AgentBudgetError, ValueError):
    """``AB_ERR_INVALID_LABELS``."""


class NoLedger(AgentBudgetError):
    """``AB_ERR_NO_LEDGER``: the daemon never created this ledger."""


class RunClosed(AgentBudgetError):
    """``AB_ERR_RUN_CLOSED``: the run has ended."""


class UnknownModel(AgentBudgetError):
    """``AB_ERR_UNKNOWN_MODEL``: the model is not priced and the run's policy denies it."""


class StaleHandle(AgentBudgetError):
    """``AB_ERR_STALE_HANDLE``: the run's slot was recycled, or a hold was already settled."""


class Busy(AgentBudgetError):
    """``AB_ERR_BUSY``: retry."""


class BudgetExceeded(AgentBudgetError):
    """A limit denied the call (``AB_DENIED``).

    Attributes:
        reason: the reason's short name (``"run_hard_limit"``, ``"pool_hard_limit"``, ``"calls"``...,
            as ``ab_reason_name``).
        reason_code: the ``AB_REASON_*`` value.
        pool: for a pool's limit, the pool's name; else ``None``.
        run_id: the run that was denied.
    """

    reason: str
    reason_code: int
    pool: Optional[str]
    run_id: str

    def __init__(self, reason_code: int, run_id: str = "", pool: Optional[str] = None) -> None:
        self.reason_code = reason_code
        self.reason = n.reason_name(reason_code)
        self.pool = pool
        self.run_id = run_id
        detail = f"run {run_id!r}: {self.reason}" + (f" (pool {pool!r})" if pool else "")
        super().__init__(n.AB_DENIED, detail)


_BY_CODE: Dict[int, Type[AgentBudgetError]] = {
    n.AB_ERR_INVALID_ARGUMENT: InvalidArgument,
    n.AB_ERR_INVALID_RUN_ID: InvalidRunId,
    n.AB_ERR_INVALID_AMOUNT: InvalidAmount,
    n.AB_ERR_INVALID_USAGE: InvalidUsage,
    n.AB_ERR_INVALID_LABELS: InvalidLabels,
    n.AB_ERR_NO_LEDGER: NoLedger,
    n.AB_ERR_RUN_CLOSED: RunClosed,
    n.AB_ERR_UNKNOWN_MODEL: UnknownModel,
    n.AB_ERR_STALE_HANDLE: StaleHandle,
    n.AB_ERR_BUSY: Busy,
}


def error(code: int, detail: str = "", what: str = "") -> AgentBudgetError:
    """The exception for status CODE."""
    return _BY_CODE.get(code, AgentBudgetError)(code, detail, what)


def check(code: int, what: str = "") -> int:
    """Raises the exception for CODE unless it is AB_OK; returns it."""
    if code != n.AB_OK:
        raise error(code, what=what)
    return code
