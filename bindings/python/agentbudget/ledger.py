"""Ledger, Run and Hold: the C ABI's handles as Python objects."""
from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar, Union

from . import _native as n
from .errors import BudgetExceeded, InvalidArgument, NoLedger, check, error
from .money import USD, amount, limit_to_nanos, nanos_to_usd
from .usage import parse_usage

F = TypeVar("F", bound=Callable[..., Any])
Labels = Union[None, str, Mapping[str, str]]

CHARGE_OVER_SOFT = 0x1
CHARGE_OVER_HARD = 0x2
CHARGE_CROSSED_SOFT = 0x4
CHARGE_CROSSED_HARD = 0x8
CHARGE_UNPRICED = 0x10
CHARGE_HOLD_EXPIRED = 0x20


def fingerprint(action: Union[str, bytes]) -> int:
    """A 64-bit fingerprint of an action (tool name and arguments, or a shell command) for
    the loop guard: hash what the model asked to do, not the prompt. Never 0."""
    data = action.encode() if isinstance(action, str) else bytes(action)
    v = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    return v or 1


def _fp(value: Union[None, int, str, bytes]) -> int:
    if value is None:
        return 0
    if isinstance(value, (str, bytes)):
        return fingerprint(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << 64):
        raise TypeError("a fingerprint is an int in 0..2**64-1, a str or bytes")
    return value


def _text(value: Optional[str], what: str) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str")
    raw = value.encode("utf-8")
    if b"\0" in raw:
        raise InvalidArgument(n.AB_ERR_INVALID_ARGUMENT, f"{what} contains a NUL byte")
    return raw


def _labels(labels: Labels) -> Optional[bytes]:
    if labels is None:
        return None
    if isinstance(labels, str):
        return _text(labels, "labels")
    return _text(",".join(f"{k}={v}" for k, v in labels.items()), "labels")


def _tokens(v: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << 64):
        raise TypeError(f"{what} must be an int in 0..2**64-1")
    return v


def _u32(v: Optional[int], what: str) -> int:
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << 32):
        raise TypeError(f"{what} must be an int in 0..2**32-1")
    return v


@dataclass(frozen=True)
class ChargeResult:
    """What a charge or commit recorded, and where the run now stands."""

    nanos: int
    flags: int

    @property
    def usd(self) -> Decimal:
        return nanos_to_usd(self.nanos)

    @property
    def over_soft(self) -> bool:
        return bool(self.flags & CHARGE_OVER_SOFT)

    @property
    def over_hard(self) -> bool:
        """The run is at or past its hard limit: admissions now deny."""
        return bool(self.flags & CHARGE_OVER_HARD)

    @property
    def crossed_soft(self) -> bool:
        return bool(self.flags & CHARGE_CROSSED_SOFT)

    @property
    def crossed_hard(self) -> bool:
        return bool(self.flags & CHARGE_CROSSED_HARD)

    @property
    def unpriced(self) -> bool:
        """Priced at the policy's fallback rate: the model is not in the price table."""
        return bool(self.flags & CHARGE_UNPRICED)

    @property
    def hold_expired(self) -> bool:
        return bool(self.flags & CHARGE_HOLD_EXPIRED)


@dataclass(frozen=True)
class RunStatus:
    """A run's counters (``ab_run_status``). Money in nanos; ``hard_nanos`` is None without a limit."""

    active: bool
    spent_nanos: int
    hard_nanos: Optional[int]
    soft_nanos: Tuple[int, ...]
    held_nanos: int
    overshoot_nanos: int
    child_spent_nanos: int
    calls: int
    in_flight: int
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    policy: str
    looped: bool
    last_denial: Optional[str]
    last_denial_pool: Optional[str]
    begun_unix_ns: int
    first_charge_unix_ns: int
    last_charge_unix_ns: int
    closed_unix_ns: int

    @property
    def spent_usd(self) -> Decimal:
        return nanos_to_usd(self.spent_nanos)

    @property
    def remaining_nanos(self) -> Optional[int]:
        """hard - spent - held (may be negative), None without a hard limit."""
        if self.hard_nanos is None:
            return None
        return self.hard_nanos - self.spent_nanos - self.held_nanos

    @classmethod
    def _from_c(cls, s: n.RunStatus) -> "RunStatus":
        return cls(
            active=s.state == 2,
            spent_nanos=s.spent_nanos,
            hard_nanos=None if s.hard_nanos == n.AB_NO_LIMIT else s.hard_nanos,
            soft_nanos=tuple(v for v in s.soft_nanos if v != n.AB_NO_LIMIT),
            held_nanos=s.held_nanos, overshoot_nanos=s.overshoot_nanos,
            child_spent_nanos=s.child_spent_nanos, calls=s.calls, in_flight=s.in_flight,
            input_tokens=s.input_tokens, cached_tokens=s.cached_tokens,
            cache_write_tokens=s.cache_write_tokens, output_tokens=s.output_tokens,
            reasoning_tokens=s.reasoning_tokens,
            policy=s.policy.decode(errors="replace"), looped=bool(s.looped),
            last_denial=n.reason_name(s.last_denial) if s.last_denial else None,
            last_denial_pool=s.last_denial_pool.decode(errors="replace") or None,
            begun_unix_ns=s.begun_unix_ns, first_charge_unix_ns=s.first_charge_unix_ns,
            last_charge_unix_ns=s.last_charge_unix_ns, closed_unix_ns=s.closed_unix_ns,
        )


@dataclass(frozen=True)
class PoolStatus:
    """A pool's counters for its current period (``ab_pool_status``)."""

    spent_nanos: int
    held_nanos: int
    hard_nanos: Optional[int]
    previous_spent_nanos: int
    period: int
    next_reset_unix_s: Optional[int]


class Ledger:
    """A mapped ledger (``ab_ledger_open``); thread-safe.

    Args:
        name: the ledger's name; None means ``$AGENTBUDGET_LEDGER``, else ``"agentbudget"``.
        fail_open: what to do when no ledger exists (the daemon never started). False (the
            default, fail closed) raises :class:`NoLedger`. True gives a ledger whose runs
            admit everything and record nothing (``available`` is False), so an agent keeps
            working without budgets. Other failures (permission, incompatible version) raise
            either way.
    """

    def __init__(self, name: Optional[str] = None, *, fail_open: bool = False) -> None:
        self._h: Optional[int] = None
        self._lock = threading.Lock()
        self._runs: "weakref.WeakSet[Run]" = weakref.WeakSet()
        self.name = name
        h = ctypes.c_void_p()
        rc = n.lib.ab_ledger_open(_text(name, "ledger name"), ctypes.byref(h))
        if rc == n.AB_ERR_NO_LEDGER and fail_open:
            self.available = False
            return
        if rc != n.AB_OK:
            raise error(rc, n.last_error_detail(), what=f"opening ledger {name or '(default)'}")
        self._h = h.value
        self.available = True

    # -- lifetime --
    def close(self) -> None:
        """Detaches every run still open from this ledger, then unmaps it. Idempotent."""
        with self._lock:
            for run in list(self._runs):
                run.detach()
            h, self._h = self._h, None
        if h is not None:
            n.lib.ab_ledger_close(h)

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _handle(self) -> int:
        if self._h is None:
            raise InvalidArgument(n.AB_ERR_INVALID_ARGUMENT, "the ledger is closed")
        return self._h

    # -- runs --
    def run(self, run_id: str, *, budget: Optional[USD] = None, soft: Optional[USD] = None,
            labels: Labels = None, max_calls: Optional[int] = None, max_in_flight: Optional[int] = None,
            loop_limit: Optional[int] = None, max_duration_s: Optional[int] = None,
            max_tokens: Optional[int] = None, parent: Union[None, str, "Run"] = None,
            end: Union[str, bool] = "auto") -> "Run":
        """Begins the run RUN_ID, or attaches to it if any process already began it.

        Args:
            budget: the run's hard limit in USD; it can only lower the policy's (None: the policy's).
            soft: an extra soft threshold in USD.
            labels: ``{"agent": "researcher"}`` or ``"agent=researcher,team=x"``; they select
                the policy (``policy=NAME`` names one).
            max_calls, max_in_flight, loop_limit, max_duration_s, max_tokens: other limits,
                which can only lower the policy's (set by the process that creates the run).
            parent: the run (id or Run) this one is a sub-agent of.
            end: what leaving a ``with`` block does. ``"auto"`` (default): **end** the run if
                this handle created it and the block exits without an exception, otherwise
                **detach** (the run goes on for other processes, and a retry of the task
                attaches to the same spend). ``True``: always end. ``False``: always detach.

        Raises:
            InvalidAmount, InvalidRunId, InvalidLabels, RunClosed, AgentBudgetError.
        """
        if end not in ("auto", True, False):
            raise ValueError("end must be 'auto', True or False")
        opts = n.BeginOptions()
        opts.struct_size = ctypes.sizeof(n.BeginOptions)
        opts.flags = 0
        opts.hard_nanos = limit_to_nanos(budget)
        opts.soft_nanos = limit_to_nanos(soft)
        opts.labels = _labels(labels)
        opts.max_calls = _u32(max_calls, "max_calls")
        opts.max_in_flight = _u32(max_in_flight, "max_in_flight")
        opts.loop_limit = _u32(loop_limit, "loop_limit")
        opts.max_duration_s = _u32(max_duration_s, "max_duration_s")
        opts.max_tokens = 0 if max_tokens is None else _tokens(max_tokens, "max_tokens")
        opts.parent = _text(parent.run_id if isinstance(parent, Run) else parent, "parent")
        rid = _text(run_id, "run_id")
        if not self.available:
            return Run(self, run_id, None, False, end)
        h = ctypes.c_void_p()
        with self._lock:
            rc = n.lib.ab_run_begin(self._handle(), rid, ctypes.byref(opts), ctypes.byref(h))
            if rc != n.AB_OK:
                raise error(rc, n.last_error_detail(), what=f"beginning run {run_id!r}")
            run = Run(self, run_id, h.value, bool(n.lib.ab_run_created(h.value)), end)
            self._runs.add(run)
        return run

    # -- pricing --
    def price(self, model: str, usage: Any, *, reasoning_separate: Optional[bool] = None) -> int:
        """The nanos USAGE of MODEL costs, charging nothing."""
        u = parse_usage(usage, reasoning_separate).to_c()
        out = ctypes.c_int64()
        check(n.lib.ab_price(self._handle(), _text(model, "model"), ctypes.byref(u), ctypes.byref(out)), "ab_price")
        return out.value

    def estimate(self, model: str, prompt_tokens: int, max_output_tokens: int = 0) -> int:
        """Worst-case nanos of one call (``ab_estimate``); 0 output = the model's maximum."""
        out = ctypes.c_int64()
        check(n.lib.ab_estimate(self._handle(), _text(model, "model"), _tokens(prompt_tokens, "prompt_tokens"),
                                _tokens(max_output_tokens, "max_output_tokens"), ctypes.byref(out)), "ab_estimate")
        return out.value

    def pool_status(self, name: str) -> PoolStatus:
        s = n.PoolStatus()
        s.struct_size = ctypes.sizeof(n.PoolStatus)
        check(n.lib.ab_pool_status_get(self._handle(), _text(name, "pool"), ctypes.byref(s)), "ab_pool_status_get")
        return PoolStatus(s.spent_nanos, s.held_nanos, None if s.hard_nanos == n.AB_NO_LIMIT else s.hard_nanos,
                          s.previous_spent_nanos, s.period,
                          None if s.next_reset_unix_s == n.AB_NO_LIMIT else s.next_reset_unix_s)


class Run:
    """One run's handle (``ab_run``). Create with :meth:`Ledger.run`. Thread-safe: a lock
    keeps :meth:`end` and :meth:`detach` from racing other calls on the handle, as the
    C ABI requires.

    On a ledger opened with ``fail_open=True`` that does not exist, a Run admits and
    reserves everything, records nothing and :meth:`status` returns None.
    """

    def __init__(self, ledger: Ledger, run_id: str, handle: Optional[int], created: bool,
                 end: Union[str, bool]) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self._h = handle
        self._noop = handle is None
        self.created = created  #: True if this process created the run, False if it attached
        self._end = end
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}{', unbudgeted' if self._noop else ''})"

    # -- lifetime --
    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._end is True or (self._end == "auto" and self.created and exc_type is None):
            self.end()
        else:
            self.detach()

    def __del__(self) -> None:
        try:
            self.detach()
        except Exception:
            pass

    def end(self) -> None:
        """Ends the run for every process (``ab_run_end``) and frees the handle."""
        with self._lock:
            h, self._h = self._h, None
            if h is not None:
                check(n.lib.ab_run_end(h), "ab_run_end")

    def detach(self) -> None:
        """Frees the handle without ending the run. Idempotent."""
        with self._lock:
            h, self._h = self._h, None
            if h is not None:
                n.lib.ab_run_detach(h)

    def _handle(self) -> int:
        if self._h is None:
            raise InvalidArgument(n.AB_ERR_INVALID_ARGUMENT, f"run {self.run_id!r}: the handle was ended or detached")
        return self._h

    # -- charging --
    def charge(self, usd: Optional[USD] = None, *, nanos: Optional[int] = None) -> ChargeResult:
        """Records money already spent (always recorded, even past the limit).

        Give USD (``"0.10"``, ``Decimal("0.10")``, ``0.1``, ``2``) or ``nanos=``. Bad amounts
        raise :class:`InvalidAmount` and change nothing.
        """
        v = amount(usd, nanos)
        if self._noop:
            return ChargeResult(v, 0)
        flags = ctypes.c_uint32()
        with self._lock:
            check(n.lib.ab_charge(self._handle(), v, ctypes.byref(flags)), f"charging run {self.run_id!r}")
        return ChargeResult(v, flags.value)

    def charge_usage(self, model: str, usage: Any, *, reasoning_separate: Optional[bool] = None) -> ChargeResult:
        """Prices USAGE of MODEL with the daemon's price table and charges it.

        USAGE is a provider's usage report or whole response, as an object or a dict
        (OpenAI, Anthropic, OpenRouter, LiteLLM; see :mod:`agentbudget.usage`).
        Raises :class:`UnknownModel` if the model is unpriced and the policy denies.
        """
        u = parse_usage(usage, reasoning_separate).to_c()
        m = _text(model, "model")
        if self._noop:
            return ChargeResult(0, 0)
        cost = ctypes.c_int64()
        flags = ctypes.c_uint32()
        with self._lock:
            check(n.lib.ab_charge_usage(self._handle(), m, ctypes.byref(u), ctypes.byref(cost), ctypes.byref(flags)),
                  f"charging run {self.run_id!r}")
        return ChargeResult(cost.value, flags.value)

    # -- admission --
    def admit(self, estimate: Optional[USD] = None, *, nanos: Optional[int] = None,
              fingerprint: Union[None, int, str, bytes] = None) -> bool:
        """May a call costing up to ESTIMATE go ahead? (None/0: is any budget left.) Reserves
        nothing. With a FINGERPRINT, also the loop guard. See :meth:`check` to raise instead."""
        v = amount(estimate, nanos, default=0)
        fp = _fp(fingerprint)
        if self._noop:
            return True
        reason = ctypes.c_int32()
        with self._lock:
            rc = n.lib.ab_admit_fp(self._handle(), v, fp, ctypes.byref(reason))
        if rc == n.AB_DENIED:
            return False
        check(rc, "ab_admit")
        return True

    def check(self, estimate: Optional[USD] = None, *, nanos: Optional[int] = None,
              fingerprint: Union[None, int, str, bytes] = None) -> None:
        """As :meth:`admit`, raising :class:`BudgetExceeded` with the reason on a denial."""
        v = amount(estimate, nanos, default=0)
        fp = _fp(fingerprint)
        if self._noop:
            return
        reason = ctypes.c_int32()
        with self._lock:
            rc = n.lib.ab_admit_fp(self._handle(), v, fp, ctypes.byref(reason))
        if rc == n.AB_DENIED:
            raise self._denied(reason.value)
        check(rc, "ab_admit")

    def _denied(self, reason: int) -> BudgetExceeded:
        pool = None
        if reason == n.AB_REASON_POOL:
            st = self.status()
            pool = st.last_denial_pool if st else None
        return BudgetExceeded(reason, self.run_id, pool)

    def estimate(self, model: str, prompt_tokens: int = 0, max_output_tokens: int = 0) -> int:
        """Worst-case nanos of one call (``ab_estimate_for_run``: unknown models at the
        policy's fallback rates)."""
        if self._noop:
            return 0
        out = ctypes.c_int64()
        with self._lock:
            check(n.lib.ab_estimate_for_run(self._handle(), _text(model, "model"), _tokens(prompt_tokens, "prompt_tokens"),
                                            _tokens(max_output_tokens, "max_output_tokens"), ctypes.byref(out)),
                  "ab_estimate_for_run")
        return out.value

    def reserve(self, estimate: Optional[USD] = None, *, nanos: Optional[int] = None, model: Optional[str] = None,
                prompt_tokens: int = 0, max_output_tokens: int = 0,
                fingerprint: Union[None, int, str, bytes] = None) -> "Hold":
        """Reserves a call's worst-case cost; raises :class:`BudgetExceeded` if a limit denies.

        The amount is ESTIMATE (USD) or ``nanos=``, or, with neither, the estimate of MODEL
        with PROMPT_TOKENS and MAX_OUTPUT_TOKENS (0: the model's maximum output). Use the
        hold as a context manager::

            with run.reserve(model="gpt-4o", prompt_tokens=1200, max_output_tokens=512) as hold:
                resp = client.chat.completions.create(...)
                hold.commit_usage("gpt-4o", resp.usage)

        Leaving the block with an exception **releases** the hold (the call is taken as not
        made); leaving it normally without having settled it **commits the estimate** (the
        call is taken as made, at its worst case).
        """
        if estimate is None and nanos is None:
            if model is None:
                raise TypeError("reserve needs an estimate (USD or nanos=) or a model")
            v = self.estimate(model, prompt_tokens, max_output_tokens)
        else:
            v = amount(estimate, nanos)
        fp = _fp(fingerprint)
        if self._noop:
            return Hold(self, None, v)
        hold = n.Hold()
        reason = ctypes.c_int32()
        with self._lock:
            rc = n.lib.ab_reserve(self._handle(), v, fp, ctypes.byref(hold), ctypes.byref(reason))
        if rc == n.AB_DENIED:
            raise self._denied(reason.value)
        check(rc, f"reserving on run {self.run_id!r}")
        return Hold(self, hold, v)

    def guard(self, model: str, *, estimate: Optional[USD] = None,
              prompt_tokens: Union[int, Callable[..., int]] = 0, max_output_tokens: int = 0,
              usage: Optional[Callable[[Any], Any]] = None,
              fingerprint: Union[None, int, str, Callable[..., Union[int, str, bytes]]] = None,
              reasoning_separate: Optional[bool] = None) -> Callable[[F], F]:
        """A decorator for a function that makes one LLM call of MODEL: reserve the estimate,
        call, commit the actual usage of the result (its ``usage``, or ``usage(result)``).

        PROMPT_TOKENS and FINGERPRINT may be callables of the function's arguments. A
        denial raises :class:`BudgetExceeded` and the function is not called; an exception
        from the function releases the hold; a result whose usage cannot be read commits
        the estimate and raises :class:`InvalidUsage`.
        """

        def decorate(fn: F) -> F:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                pt = prompt_tokens(*args, **kwargs) if callable(prompt_tokens) else prompt_tokens
                fp = fingerprint(*args, **kwargs) if callable(fingerprint) else fingerprint
                if estimate is not None:
                    hold = self.reserve(estimate, fingerprint=fp)
                else:
                    hold = self.reserve(model=model, prompt_tokens=pt, max_output_tokens=max_output_tokens,
                                        fingerprint=fp)
                with hold:
                    result = fn(*args, **kwargs)
                    try:
                        u = parse_usage(usage(result) if usage else result, reasoning_separate)
                    except Exception:
                        hold.commit(nanos=hold.estimate_nanos)
                        raise
                    hold.commit_usage(model, u)
                return result

            return wrapper  # type: ignore[return-value]

        return decorate

    # -- status --
    def status(self) -> Optional[RunStatus]:
        """The run's counters (None on an unbudgeted fail-open run)."""
        if self._noop:
            return None
        s = n.RunStatus()
        s.struct_size = ctypes.sizeof(n.RunStatus)
        with self._lock:
            check(n.lib.ab_run_status_get(self._handle(), ctypes.byref(s)), "ab_run_status_get")
        return RunStatus._from_c(s)

    @property
    def spent_nanos(self) -> int:
        st = self.status()
        return st.spent_nanos if st else 0


class Hold:
    """A granted reservation. Settle it once with :meth:`commit`, :meth:`commit_usage` or
    :meth:`release`, or use it as a context manager (see :meth:`Run.reserve`)."""

    def __init__(self, run: Run, hold: Optional[n.Hold], estimate_nanos: int) -> None:
        self.run = run
        self._hold = hold
        self.estimate_nanos = estimate_nanos
        self.settled = False
        self.result: Optional[ChargeResult] = None

    def _take(self) -> Optional[n.Hold]:
        if self.settled:
            raise InvalidArgument(n.AB_ERR_INVALID_ARGUMENT, "the hold is already settled")
        return self._hold

    def commit(self, usd: Optional[USD] = None, *, nanos: Optional[int] = None) -> ChargeResult:
        """Settles the hold with what the call cost (USD or ``nanos=``; may exceed the estimate)."""
        v = amount(usd, nanos)
        h = self._take()
        if h is None:
            self.settled = True
            self.result = ChargeResult(v, 0)
            return self.result
        flags = ctypes.c_uint32()
        with self.run._lock:
            rc = n.lib.ab_commit(self.run._handle(), h, v, ctypes.byref(flags))
        self.settled = rc == n.AB_OK or rc == n.AB_ERR_STALE_HANDLE
        check(rc, "ab_commit")
        self.result = ChargeResult(v, flags.value)
        return self.result

    def commit_usage(self, model: str, usage: Any, *, reasoning_separate: Optional[bool] = None) -> ChargeResult:
        """Settles the hold with the priced USAGE of MODEL (as :meth:`Run.charge_usage`)."""
        u = parse_usage(usage, reasoning_separate).to_c()
        m = _text(model, "model")
        h = self._take()
        if h is None:
            self.settled = True
            self.result = ChargeResult(0, 0)
            return self.result
        cost = ctypes.c_int64()
        flags = ctypes.c_uint32()
        with self.run._lock:
            rc = n.lib.ab_commit_usage(self.run._handle(), h, m, ctypes.byref(u), ctypes.byref(cost), ctypes.byref(flags))
        # An unknown model under a deny policy releases the hold in the library.
        self.settled = rc in (n.AB_OK, n.AB_ERR_STALE_HANDLE, n.AB_ERR_UNKNOWN_MODEL)
        check(rc, "ab_commit_usage")
        self.result = ChargeResult(cost.value, flags.value)
        return self.result

    def release(self) -> None:
        """Returns the hold unused: the call was not made."""
        h = self._take()
        self.settled = True
        if h is None:
            return
        with self.run._lock:
            rc = n.lib.ab_release(self.run._handle(), h)
        check(rc, "ab_release")

    def __enter__(self) -> "Hold":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.settled:
            return
        if exc_type is not None:
            self.release()
        else:
            self.commit(nanos=self.estimate_nanos)


def budgeted(run: Run, model: str, **kwargs: Any) -> Callable[[F], F]:
    """``@budgeted(run, "gpt-4o", max_output_tokens=512)``: the same as ``@run.guard(...)``."""
    return run.guard(model, **kwargs)
