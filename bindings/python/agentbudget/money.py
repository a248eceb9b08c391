"""Exact conversion of USD amounts to integer nano-USD, before anything reaches the ledger."""
from __future__ import annotations

import ctypes
import math
from decimal import Decimal
from typing import Optional, Union

from . import _native as n
from .errors import InvalidAmount

#: What the binding accepts as an amount of USD.
USD = Union[str, Decimal, int, float]

INT64_MAX = (1 << 63) - 1


def _refuse(value: object, why: str) -> InvalidAmount:
    return InvalidAmount(n.AB_ERR_INVALID_AMOUNT, f"{value!r}: {why}")


def usd_to_nanos(usd: USD) -> int:
    """Converts USD to nanos exactly.

    ``str`` and ``Decimal`` go through ``ab_usd_parse`` (exact, "$2.50" and "1e-3" accepted,
    finer than a nano refused); ``int`` is whole dollars; ``float`` is rounded to the nearest
    nano by ``ab_usd_from_double``. Negative, NaN, infinite, malformed and amounts above
    $1,000,000 raise :class:`InvalidAmount`; ``bool`` and other types raise ``TypeError``.
    """
    if isinstance(usd, bool) or not isinstance(usd, (str, Decimal, int, float)):
        raise TypeError(f"a USD amount must be str, Decimal, int or float, not {type(usd).__name__}")
    out = ctypes.c_int64()
    if isinstance(usd, float):
        if math.isnan(usd) or math.isinf(usd) or usd < 0:
            raise _refuse(usd, "not a finite non-negative amount")
        rc = n.lib.ab_usd_from_double(usd, ctypes.byref(out))
        if rc != n.AB_OK:
            raise _refuse(usd, "out of range")
        return out.value
    if isinstance(usd, Decimal):
        if not usd.is_finite():
            raise _refuse(usd, "not a finite amount")
        if usd < 0:
            raise _refuse(usd, "negative")
        text = format(usd, "f")
    elif isinstance(usd, int):
        if usd < 0:
            raise _refuse(usd, "negative")
        text = str(usd)
    else:
        text = usd.strip()
    if len(text) > 64:
        raise _refuse(usd, "malformed or too large")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise _refuse(usd, "malformed") from None
    if b"\0" in raw:
        raise _refuse(usd, "malformed")
    rc = n.lib.ab_usd_parse(raw, ctypes.byref(out))
    if rc != n.AB_OK:
        raise _refuse(usd, "negative, malformed, finer than a nano, or too large")
    return out.value


def check_nanos(nanos: int) -> int:
    """Validates an amount given in nanos: an int (not bool) in 0..$1,000,000."""
    if isinstance(nanos, bool) or not isinstance(nanos, int):
        raise TypeError(f"nanos must be an int, not {type(nanos).__name__}")
    if nanos < 0 or nanos > n.MAX_CALL_NANOS:
        raise _refuse(nanos, "nanos must be 0 to 10**15 ($1,000,000)")
    return nanos


def amount(usd: Optional[USD], nanos: Optional[int], default: Optional[int] = None) -> int:
    """Nanos from exactly one of USD or NANOS (or DEFAULT if neither is given)."""
    if usd is not None and nanos is not None:
        raise TypeError("give the amount in USD or in nanos, not both")
    if usd is not None:
        return usd_to_nanos(usd)
    if nanos is not None:
        return check_nanos(nanos)
    if default is None:
        raise TypeError("an amount (USD, or nanos=) is required")
    return default


def nanos_to_usd(nanos: int) -> Decimal:
    """Nanos as an exact Decimal of USD."""
    return Decimal(nanos).scaleb(-9)


def limit_to_nanos(usd: Optional[USD]) -> int:
    """A begin-time limit: None means "the policy's" (-1)."""
    return -1 if usd is None else usd_to_nanos(usd)
