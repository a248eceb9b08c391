"""Token usage as providers report it, mapped onto ``ab_usage``.

:func:`to_ab_usage` accepts, as objects with attributes or as dicts (a provider SDK's
pydantic model, the JSON of a response, a LiteLLM ``Usage``):

* **OpenAI Chat Completions, OpenRouter, LiteLLM**: ``prompt_tokens`` (includes cached
  tokens), ``completion_tokens`` (includes reasoning), ``prompt_tokens_details.cached_tokens``,
  ``completion_tokens_details.reasoning_tokens``. Shape ``AB_USAGE_OPENAI``. A report whose
  reasoning exceeds its completion (some Gemini routes report reasoning outside it) is
  priced with ``AB_USAGE_REASONING_SEPARATE``. LiteLLM's cache writes
  (``cache_creation_input_tokens``, or ``prompt_tokens_details.cache_creation_tokens``) are
  passed on as 5-minute writes; if reads plus writes exceed ``prompt_tokens``, that LiteLLM
  version left the writes out of the prompt and they are added to it.
* **OpenAI Responses API**: ``input_tokens`` with ``input_tokens_details.cached_tokens``,
  ``output_tokens`` with ``output_tokens_details.reasoning_tokens``. Shape ``AB_USAGE_OPENAI``.
* **Anthropic Messages**: ``input_tokens`` (excludes cache reads and writes),
  ``output_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens`` and, when
  present, ``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``
  (which then replace ``cache_creation_input_tokens``). Shape ``AB_USAGE_ANTHROPIC``.
* a whole **response** (anything with a ``usage`` field: OpenAI, Anthropic, OpenRouter and
  LiteLLM responses), whose ``usage`` is used;
* a :class:`TokenUsage` given explicitly.

Missing and ``None`` fields count 0. A count that is negative, not an integer, or above
2**63 raises :class:`InvalidUsage` before anything reaches the ledger.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from . import _native as n
from .errors import InvalidUsage

_MISSING = object()
_MAX_COUNT = (1 << 63) - 1


@dataclass(frozen=True)
class TokenUsage:
    """``ab_usage`` spelled out: the counts of one call, in the given shape."""

    shape: int = n.AB_USAGE_OPENAI
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    reasoning_separate: bool = False

    def to_c(self) -> n.Usage:
        u = n.Usage()
        u.struct_size = ctypes.sizeof(n.Usage)
        u.shape = self.shape
        for f in ("input_tokens", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                  "output_tokens", "reasoning_tokens"):
            setattr(u, f, _count_value(getattr(self, f), f))
        u.flags = n.AB_USAGE_REASONING_SEPARATE if self.reasoning_separate else 0
        u.reserved = 0
        return u

OPENAI = n.AB_USAGE_OPENAI
ANTHROPIC = n.AB_USAGE_ANTHROPIC


def _get(obj: Any, key: str) -> Any:
    """obj[key] for mappings, obj.key otherwise; _MISSING if absent."""
    if obj is None:
        return _MISSING
    if isinstance(obj, Mapping):
        return obj.get(key, _MISSING)
    return getattr(obj, key, _MISSING)


def _has(obj: Any, key: str) -> bool:
    v = _get(obj, key)
    return v is not _MISSING and v is not None


def _count_value(v: Any, key: str) -> int:
    if v is _MISSING or v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        # JSON parsers may give 12.0; accept integral floats, nothing else.
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        else:
            raise InvalidUsage(n.AB_ERR_INVALID_USAGE, f"{key} = {v!r} is not a token count")
    if v < 0 or v > _MAX_COUNT:
        raise InvalidUsage(n.AB_ERR_INVALID_USAGE, f"{key} = {v!r} is out of range")
    return v


def _count(obj: Any, key: str) -> int:
    return _count_value(_get(obj, key), key)


def _sub(obj: Any, key: str) -> Any:
    v = _get(obj, key)
    return None if v is _MISSING else v


def parse_usage(usage: Any, reasoning_separate: Optional[bool] = None) -> TokenUsage:
    """The :class:`TokenUsage` of a provider's usage report (see the module's docstring).

    REASONING_SEPARATE overrides the guess of whether reasoning tokens are outside the
    completion count (True for Gemini's native API and some Gemini routes).
    """
    if isinstance(usage, TokenUsage):
        return usage
    if usage is None:
        raise InvalidUsage(n.AB_ERR_INVALID_USAGE, "no usage reported")
    # A whole response: use its usage block.
    if not any(_has(usage, k) for k in ("prompt_tokens", "input_tokens", "completion_tokens", "output_tokens")):
        inner = _sub(usage, "usage")
        if inner is None:
            raise InvalidUsage(n.AB_ERR_INVALID_USAGE,
                               f"{type(usage).__name__} has neither prompt_tokens, input_tokens nor usage")
        return parse_usage(inner, reasoning_separate)

    if _has(usage, "prompt_tokens") or _has(usage, "completion_tokens"):
        # OpenAI Chat Completions / OpenRouter / LiteLLM.
        prompt = _count(usage, "prompt_tokens")
        ptd = _sub(usage, "prompt_tokens_details")
        ctd = _sub(usage, "completion_tokens_details")
        cached = _count(ptd, "cached_tokens")
        if cached == 0:
            cached = _count(usage, "cache_read_input_tokens")  # LiteLLM's Anthropic passthrough
        writes = _count(ptd, "cache_creation_tokens") or _count(usage, "cache_creation_input_tokens")
        if cached + writes > prompt and writes:
            prompt += writes
        output = _count(usage, "completion_tokens")
        reasoning = _count(ctd, "reasoning_tokens")
        sep = reasoning > output if reasoning_separate is None else reasoning_separate
        return TokenUsage(n.AB_USAGE_OPENAI, prompt, cached, writes, 0, output, reasoning, sep)

    if _has(usage, "input_tokens_details") or _has(usage, "output_tokens_details"):
        # OpenAI Responses API: input includes cached tokens.
        inp = _count(usage, "input_tokens")
        cached = _count(_sub(usage, "input_tokens_details"), "cached_tokens")
        output = _count(usage, "output_tokens")
        reasoning = _count(_sub(usage, "output_tokens_details"), "reasoning_tokens")
        sep = reasoning > output if reasoning_separate is None else reasoning_separate
        return TokenUsage(n.AB_USAGE_OPENAI, inp, cached, 0, 0, output, reasoning, sep)

    # Anthropic Messages: input excludes cache reads and writes.
    inp = _count(usage, "input_tokens")
    cached = _count(usage, "cache_read_input_tokens")
    cc = _sub(usage, "cache_creation")
    if cc is not None and (_has(cc, "ephemeral_5m_input_tokens") or _has(cc, "ephemeral_1h_input_tokens")):
        w5 = _count(cc, "ephemeral_5m_input_tokens")
        w1 = _count(cc, "ephemeral_1h_input_tokens")
    else:
        w5 = _count(usage, "cache_creation_input_tokens")
        w1 = 0
    output = _count(usage, "output_tokens")
    return TokenUsage(n.AB_USAGE_ANTHROPIC, inp, cached, w5, w1, output, 0,
                      bool(reasoning_separate) if reasoning_separate is not None else False)
