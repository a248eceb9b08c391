"""ctypes declarations of the C ABI in capi/agentbudget.h, and where the library is found.

The library is looked up, in order, at:

1. ``$AGENTBUDGET_LIBRARY`` (a path to ``libagentbudget.so``);
2. the build tree of the repository this package sits in (``build/capi``, then other
   ``build-*`` folders that are not sanitizer builds);
3. the system's linker path (``ctypes.util.find_library``, which asks ldconfig), then
   ``libagentbudget.so.0`` by soname.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import List, Optional

c_int = ctypes.c_int
c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
POINTER = ctypes.POINTER

# Status codes (pinned in the header).
AB_OK = 0
AB_DENIED = 1
AB_ERR_INVALID_ARGUMENT = -1
AB_ERR_INVALID_RUN_ID = -2
AB_ERR_INVALID_AMOUNT = -3
AB_ERR_NO_LEDGER = -4
AB_ERR_PERMISSION = -5
AB_ERR_INCOMPATIBLE = -6
AB_ERR_CORRUPT = -7
AB_ERR_NOT_READY = -8
AB_ERR_TABLE_FULL = -9
AB_ERR_BUSY = -10
AB_ERR_STALE_HANDLE = -11
AB_ERR_RUN_CLOSED = -12
AB_ERR_UNKNOWN_MODEL = -13
AB_ERR_INVALID_USAGE = -14
AB_ERR_OVERFLOW = -15
AB_ERR_INVALID_LABELS = -16
AB_ERR_SYSTEM = -17
AB_ERR_NOT_FOUND = -18

AB_USAGE_OPENAI = 0
AB_USAGE_ANTHROPIC = 1
AB_USAGE_REASONING_SEPARATE = 0x1

AB_REASON_POOL = 2
AB_NO_LIMIT = (1 << 63) - 1
NANOS_PER_USD = 1_000_000_000
MAX_CALL_NANOS = 1_000_000 * NANOS_PER_USD  # the library refuses larger amounts


class BeginOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("flags", c_uint32),
        ("hard_nanos", c_int64), ("soft_nanos", c_int64),
        ("labels", c_char_p),
        ("max_calls", c_uint32), ("max_in_flight", c_uint32),
        ("loop_limit", c_uint32), ("max_duration_s", c_uint32),
        ("max_tokens", c_uint64),
        ("parent", c_char_p),
    ]


class Usage(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("shape", c_uint32),
        ("input_tokens", c_uint64), ("cached_tokens", c_uint64),
        ("cache_write_5m_tokens", c_uint64), ("cache_write_1h_tokens", c_uint64),
        ("output_tokens", c_uint64), ("reasoning_tokens", c_uint64),
        ("flags", c_uint32), ("reserved", c_uint32),
    ]


class Hold(ctypes.Structure):
    _fields_ = [("index", c_uint32), ("generation", c_uint32)]


class RunStatus(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("state", c_uint32),
        ("spent_nanos", c_int64), ("hard_nanos", c_int64), ("soft_nanos", c_int64 * 4),
        ("calls", c_uint64), ("input_tokens", c_uint64), ("cached_tokens", c_uint64),
        ("cache_write_tokens", c_uint64), ("output_tokens", c_uint64), ("reasoning_tokens", c_uint64),
        ("begun_unix_ns", c_uint64), ("first_charge_unix_ns", c_uint64),
        ("last_charge_unix_ns", c_uint64), ("closed_unix_ns", c_uint64),
        ("policy", ctypes.c_char * 64),
        ("held_nanos", c_int64), ("overshoot_nanos", c_int64),
        ("in_flight", c_uint32), ("looped", c_uint32),
        ("child_spent_nanos", c_int64),
        ("last_denial", c_int32), ("reserved", c_uint32),
        ("last_denial_pool", ctypes.c_char * 64),
    ]


class PoolStatus(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("reserved", c_uint32),
        ("spent_nanos", c_int64), ("held_nanos", c_int64), ("hard_nanos", c_int64),
        ("previous_spent_nanos", c_int64), ("period", c_uint64), ("next_reset_unix_s", c_int64),
    ]


def _candidates() -> List[str]:
    out: List[str] = []
    env = os.environ.get("AGENTBUDGET_LIBRARY")
    if env:
        return [env]  # explicit: no silent fallback to another copy
    root = Path(__file__).resolve().parents[3]  # bindings/python/agentbudget -> repository
    builds = [root / "build"] + sorted(p for p in root.glob("build-*")
                                       if "asan" not in p.name and "tsan" not in p.name)
    for b in builds:
        lib = b / "capi" / "libagentbudget.so.0"
        if lib.exists():
            out.append(str(lib))
    found = ctypes.util.find_library("agentbudget")
    if found:
        out.append(found)
    out.append("libagentbudget.so.0")
    return out


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("agentbudget: cannot load libagentbudget.so (set AGENTBUDGET_LIBRARY): "
                      + "; ".join(errors))


lib = _load()


def _proto(name: str, restype, *argtypes) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_proto("ab_version_number", c_uint32)
_proto("ab_version_string", c_char_p)
_proto("ab_strerror", c_char_p, c_int)
_proto("ab_status_name", c_char_p, c_int)
_proto("ab_last_error_detail", c_char_p)
_proto("ab_reason_name", c_char_p, c_int)
_proto("ab_ledger_open", c_int, c_char_p, POINTER(c_void_p))
_proto("ab_ledger_close", None, c_void_p)
_proto("ab_run_begin", c_int, c_void_p, c_char_p, POINTER(BeginOptions), POINTER(c_void_p))
_proto("ab_run_created", c_int, c_void_p)
_proto("ab_run_end", c_int, c_void_p)
_proto("ab_run_detach", None, c_void_p)
_proto("ab_charge", c_int, c_void_p, c_int64, POINTER(c_uint32))
_proto("ab_charge_usage", c_int, c_void_p, c_char_p, POINTER(Usage), POINTER(c_int64), POINTER(c_uint32))
_proto("ab_price", c_int, c_void_p, c_char_p, POINTER(Usage), POINTER(c_int64))
_proto("ab_admit", c_int, c_void_p, c_int64, POINTER(c_int32))
_proto("ab_admit_fp", c_int, c_void_p, c_int64, c_uint64, POINTER(c_int32))
_proto("ab_reserve", c_int, c_void_p, c_int64, c_uint64, POINTER(Hold), POINTER(c_int32))
_proto("ab_commit", c_int, c_void_p, Hold, c_int64, POINTER(c_uint32))
_proto("ab_commit_usage", c_int, c_void_p, Hold, c_char_p, POINTER(Usage), POINTER(c_int64), POINTER(c_uint32))
_proto("ab_release", c_int, c_void_p, Hold)
_proto("ab_estimate", c_int, c_void_p, c_char_p, c_uint64, c_uint64, POINTER(c_int64))
_proto("ab_estimate_for_run", c_int, c_void_p, c_char_p, c_uint64, c_uint64, POINTER(c_int64))
_proto("ab_pool_status_get", c_int, c_void_p, c_char_p, POINTER(PoolStatus))
_proto("ab_run_status_get", c_int, c_void_p, POINTER(RunStatus))
_proto("ab_usd_parse", c_int, c_char_p, POINTER(c_int64))
_proto("ab_usd_from_double", c_int, ctypes.c_double, POINTER(c_int64))


def status_name(code: int) -> str:
    return lib.ab_status_name(code).decode()


def strerror(code: int) -> str:
    return lib.ab_strerror(code).decode()


def reason_name(reason: int) -> str:
    return lib.ab_reason_name(reason).decode()


def last_error_detail() -> str:
    return lib.ab_last_error_detail().decode(errors="replace")


def library_path() -> Optional[str]:
    return getattr(lib, "_name", None)
