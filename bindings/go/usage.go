package agentbudget

/*
#include "agentbudget.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Shape says how a provider counts prompt tokens.
type Shape uint32

const (
	// ShapeOpenAI: the prompt INCLUDES cached tokens (OpenAI, Gemini, OpenRouter, LiteLLM).
	ShapeOpenAI Shape = C.AB_USAGE_OPENAI
	// ShapeAnthropic: input EXCLUDES cache reads and writes.
	ShapeAnthropic Shape = C.AB_USAGE_ANTHROPIC
)

// Usage is the token counts of one call as the provider reported them (ab_usage).
type Usage struct {
	Shape              Shape
	InputTokens        uint64
	CachedTokens       uint64
	CacheWrite5mTokens uint64
	CacheWrite1hTokens uint64
	OutputTokens       uint64
	ReasoningTokens    uint64
	// ReasoningSeparate: reasoning is NOT included in OutputTokens.
	ReasoningSeparate bool
}

// OpenAIUsage: prompt_tokens, prompt_tokens_details.cached_tokens, completion_tokens,
// completion_tokens_details.reasoning_tokens. Reasoning above the completion is taken
// as reported outside it.
func OpenAIUsage(prompt, cached, completion, reasoning uint64) Usage {
	return Usage{Shape: ShapeOpenAI, InputTokens: prompt, CachedTokens: cached, OutputTokens: completion,
		ReasoningTokens: reasoning, ReasoningSeparate: reasoning > completion}
}

// AnthropicUsage: input_tokens, cache_read_input_tokens, cache writes with a 5-minute
// and a 1-hour TTL (cache_creation.ephemeral_5m/1h_input_tokens, or
// cache_creation_input_tokens as 5-minute writes), output_tokens.
func AnthropicUsage(input, cacheRead, cacheWrite5m, cacheWrite1h, output uint64) Usage {
	return Usage{Shape: ShapeAnthropic, InputTokens: input, CachedTokens: cacheRead,
		CacheWrite5mTokens: cacheWrite5m, CacheWrite1hTokens: cacheWrite1h, OutputTokens: output}
}

func (u *Usage) toC() C.ab_usage {
	var c C.ab_usage
	c.struct_size = C.uint32_t(C.sizeof_ab_usage)
	c.shape = C.uint32_t(u.Shape)
	c.input_tokens = C.uint64_t(u.InputTokens)
	c.cached_tokens = C.uint64_t(u.CachedTokens)
	c.cache_write_5m_tokens = C.uint64_t(u.CacheWrite5mTokens)
	c.cache_write_1h_tokens = C.uint64_t(u.CacheWrite1hTokens)
	c.output_tokens = C.uint64_t(u.OutputTokens)
	c.reasoning_tokens = C.uint64_t(u.ReasoningTokens)
	if u.ReasoningSeparate {
		c.flags = C.AB_USAGE_REASONING_SEPARATE
	}
	return c
}

func count(obj map[string]any, key string) (uint64, error) {
	v, ok := obj[key]
	if !ok || v == nil {
		return 0, nil
	}
	bad := &Error{Code: int(C.AB_ERR_INVALID_USAGE), Detail: fmt.Sprintf("%s = %v is not a token count", key, v)}
	switch n := v.(type) {
	case json.Number:
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil {
			return 0, bad
		}
		return u, nil
	case float64:
		if n < 0 || n != math.Trunc(n) || n >= 1<<63 {
			return 0, bad
		}
		return uint64(n), nil
	case int:
		if n < 0 {
			return 0, bad
		}
		return uint64(n), nil
	case int64:
		if n < 0 {
			return 0, bad
		}
		return uint64(n), nil
	case uint64:
		return n, nil
	}
	return 0, bad
}

func sub(obj map[string]any, key string) map[string]any {
	m, _ := obj[key].(map[string]any)
	return m
}

// UsageFromJSON maps a decoded usage object (or a whole response with a "usage" field)
// of OpenAI Chat Completions, OpenRouter and LiteLLM (prompt_tokens...), the OpenAI
// Responses API (input_tokens with input_tokens_details) or Anthropic Messages
// (input_tokens with cache_read_input_tokens, cache_creation_input_tokens and
// cache_creation.ephemeral_5m/1h_input_tokens) onto Usage. Decode with
// json.Decoder.UseNumber() to keep counts exact.
func UsageFromJSON(obj map[string]any) (Usage, error) {
	_, hasPrompt := obj["prompt_tokens"]
	_, hasCompletion := obj["completion_tokens"]
	_, hasInput := obj["input_tokens"]
	_, hasOutput := obj["output_tokens"]
	if !hasPrompt && !hasCompletion && !hasInput && !hasOutput {
		if inner := sub(obj, "usage"); inner != nil {
			return UsageFromJSON(inner)
		}
		return Usage{}, &Error{Code: int(C.AB_ERR_INVALID_USAGE), Detail: "neither prompt_tokens, input_tokens nor usage"}
	}
	var firstErr error
	get := func(o map[string]any, k string) uint64 {
		v, err := count(o, k)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	}
	var u Usage
	switch {
	case hasPrompt || hasCompletion:
		u = OpenAIUsage(get(obj, "prompt_tokens"), get(sub(obj, "prompt_tokens_details"), "cached_tokens"),
			get(obj, "completion_tokens"), get(sub(obj, "completion_tokens_details"), "reasoning_tokens"))
	case obj["input_tokens_details"] != nil || obj["output_tokens_details"] != nil:
		u = OpenAIUsage(get(obj, "input_tokens"), get(sub(obj, "input_tokens_details"), "cached_tokens"),
			get(obj, "output_tokens"), get(sub(obj, "output_tokens_details"), "reasoning_tokens"))
	default:
		var w5, w1 uint64
		cc := sub(obj, "cache_creation")
		if cc != nil && (cc["ephemeral_5m_input_tokens"] != nil || cc["ephemeral_1h_input_tokens"] != nil) {
			w5, w1 = get(cc, "ephemeral_5m_input_tokens"), get(cc, "ephemeral_1h_input_tokens")
		} else {
			w5 = get(obj, "cache_creation_input_tokens")
		}
		u = AnthropicUsage(get(obj, "input_tokens"), get(obj, "cache_read_input_tokens"), w5, w1, get(obj, "output_tokens"))
	}
	return u, firstErr
}
