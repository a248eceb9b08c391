package agentbudget

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var seq int64

func rid(tag string) string {
	return fmt.Sprintf("go-%s-%d-%d", tag, os.Getpid(), atomic.AddInt64(&seq, 1))
}

func open(t testing.TB) *Ledger {
	t.Helper()
	if os.Getenv("AGENTBUDGET_LEDGER") == "" {
		t.Skip("AGENTBUDGET_LEDGER is not set (run through run_with_daemon.sh)")
	}
	l, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ok returns v, or fails the test (by a panic, which the test reports) on an error.
func ok[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestExactCapTripsExactly(t *testing.T) {
	l := open(t)
	defer l.Close()
	run := ok(l.Begin(rid("cap"), RunOptions{Hard: MustUSD("0.80")}))
	defer run.End()
	a := ok(run.ChargeUSD("0.10"))
	if a.Nanos != 100_000_000 || a.OverHard() {
		t.Fatalf("first charge %+v", a)
	}
	b := ok(run.Charge(MustUSD("0.70")))
	if !b.OverHard() || !b.CrossedHard() {
		t.Fatalf("second charge %+v", b)
	}
	if st := ok(run.Status()); st.SpentNanos != 800_000_000 {
		t.Fatalf("spent %d", st.SpentNanos)
	}
	err := run.Admit(0)
	var denied *DeniedError
	if !errors.Is(err, ErrDenied) || !errors.As(err, &denied) || denied.Reason != ReasonRunHard {
		t.Fatalf("admit: %v", err)
	}
	if denied.Reason.String() != "run_hard_limit" {
		t.Fatalf("reason name %q", denied.Reason.String())
	}
}

// S14: a run at $0.50 is charged -$0.008, NaN, +Inf, 1e30 (and more): all refused, nothing changed.
func TestS14BadAmountsChangeNothing(t *testing.T) {
	l := open(t)
	defer l.Close()
	run := ok(l.Begin(rid("s14"), RunOptions{Hard: MustUSD("1.00")}))
	defer run.End()
	ok(run.ChargeUSD("0.50"))
	before := ok(run.Status())
	for _, bad := range []float64{-0.008, math.NaN(), math.Inf(1), math.Inf(-1), 1e30, 1e6 + 1} {
		if _, err := USDFloat(bad); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("USDFloat(%v): %v", bad, err)
		}
	}
	for _, bad := range []string{"-0.008", "NaN", "nan", "inf", "Infinity", "1e30", "garbage", "", "0.1.2", "12abc",
		"0x10", "1,5", "1000000.01", "0.80\x00"} {
		if _, err := run.ChargeUSD(bad); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("ChargeUSD(%q): %v", bad, err)
		}
	}
	for _, bad := range []int64{-1, -8_000_000, math.MinInt64, 1_000_000*NanosPerUSD + 1, math.MaxInt64} {
		if _, err := run.Charge(bad); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("Charge(%d): %v", bad, err)
		}
		if err := run.Admit(bad); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("Admit(%d): %v", bad, err)
		}
		if _, err := run.Reserve(bad, 0); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("Reserve(%d): %v", bad, err)
		}
	}
	if _, err := run.ChargeUsage("gpt-4o", OpenAIUsage(10, 11, 1, 0)); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("cached > prompt: %v", err)
	}
	if _, err := run.ChargeUsage("gpt-4o", OpenAIUsage(math.MaxUint64, 0, math.MaxUint64, 0)); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("overflowing usage: %v", err)
	}
	if _, err := UsageFromJSON(map[string]any{"prompt_tokens": json.Number("-5")}); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("negative count: %v", err)
	}
	if _, err := UsageFromJSON(map[string]any{"prompt_tokens": 1.5}); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("fractional count: %v", err)
	}
	h := ok(run.Reserve(MustUSD("0.01"), 0))
	if _, err := h.Commit(-1); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("commit -1: %v", err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	after := ok(run.Status())
	// Every counter, not only spent (the refused reserve/release pair leaves calls as they were).
	before.LastDenial, after.LastDenial = 0, 0
	if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) || after.SpentNanos != 500_000_000 {
		t.Fatalf("status changed:\n before %+v\n after  %+v", before, after)
	}
	if _, err := l.Begin(rid("neg"), RunOptions{Hard: -1}); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestUsageReferenceCharges(t *testing.T) {
	l := open(t)
	defer l.Close()
	run := ok(l.Begin(rid("usage"), RunOptions{}))
	defer run.End()
	check := func(model string, u Usage, want int64) {
		t.Helper()
		c, err := run.ChargeUsage(model, u)
		if err != nil || c.Nanos != want {
			t.Errorf("%s %+v: %d, %v; want %d", model, u, c.Nanos, err, want)
		}
	}
	check("claude-sonnet-4-5-20250929", AnthropicUsage(3, 0, 12304, 0, 550), 54_399_000)
	check("claude-sonnet-4-5-20250929", AnthropicUsage(100, 1000, 0, 2000, 10), 12_750_000)
	check("gpt-4o", OpenAIUsage(1000, 200, 100, 0), 3_250_000)
	check("openai/gpt-4o", OpenAIUsage(1000, 200, 100, 0), 3_250_000)
	check("google/gemini-3-pro-preview", OpenAIUsage(2263, 0, 132, 95), 6_110_000)

	// Provider JSON as it comes, decoded with UseNumber.
	for _, tc := range []struct {
		model, js string
		want      int64
	}{
		{"gpt-4o", `{"prompt_tokens":1000,"completion_tokens":100,"prompt_tokens_details":{"cached_tokens":200},"completion_tokens_details":{"reasoning_tokens":0}}`, 3_250_000},
		{"gpt-4o", `{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":1000,"completion_tokens":100,"prompt_tokens_details":{"cached_tokens":200}}}`, 3_250_000},
		{"gpt-4o", `{"input_tokens":1000,"output_tokens":100,"input_tokens_details":{"cached_tokens":200},"output_tokens_details":{"reasoning_tokens":0}}`, 3_250_000},
		{"claude-sonnet-4-5-20250929", `{"input_tokens":3,"cache_creation_input_tokens":12304,"cache_read_input_tokens":0,"output_tokens":550}`, 54_399_000},
		{"claude-sonnet-4-5-20250929", `{"input_tokens":100,"output_tokens":10,"cache_read_input_tokens":1000,"cache_creation_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":2000}}`, 12_750_000},
	} {
		d := json.NewDecoder(strings.NewReader(tc.js))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		check(tc.model, ok(UsageFromJSON(m)), tc.want)
	}
	sep := OpenAIUsage(1000, 0, 10, 90)
	if p := ok(l.Price("gemini-3-pro-preview", sep)); !sep.ReasoningSeparate || p != 1000*2000+100*12000 {
		t.Errorf("reasoning apart: %d", p)
	}
	c := ok(run.ChargeUsage("acme-new-1", OpenAIUsage(10000, 0, 0, 0)))
	if !c.Unpriced() || c.Nanos != 10000*15_000 {
		t.Errorf("unpriced: %+v", c)
	}
	st := ok(run.Status())
	if want := int64(2*54_399_000 + 2*12_750_000 + 5*3_250_000 + 6_110_000 + 150_000_000); st.SpentNanos != want {
		t.Errorf("spent %d, want %d", st.SpentNanos, want)
	}
}

func TestHolds(t *testing.T) {
	l := open(t)
	defer l.Close()
	run := ok(l.Begin(rid("hold"), RunOptions{Hard: MustUSD("0.30")}))
	defer run.End()
	func() {
		h := ok(run.Reserve(MustUSD("0.08"), 0))
		defer h.Release() // no-op after the commit
		if st := ok(run.Status()); st.HeldNanos != 80_000_000 {
			t.Fatalf("held %d", st.HeldNanos)
		}
		ok(h.Commit(MustUSD("0.00027")))
		if _, err := h.Commit(1); !errors.Is(err, ErrSettled) {
			t.Fatalf("second commit: %v", err)
		}
	}()
	func() {
		h := ok(run.Reserve(MustUSD("0.08"), 0))
		defer h.Release() // an early return: the call was not made
	}()
	st := ok(run.Status())
	if st.SpentNanos != 270_000 || st.HeldNanos != 0 || st.Calls != 1 || st.InFlight != 0 {
		t.Fatalf("status %+v", st)
	}
	est := ok(run.Estimate("gpt-4o", 1000, 100))
	if est != 1000*2500+100*10000 {
		t.Fatalf("estimate %d", est)
	}
	h := ok(run.Reserve(est, 0))
	if c := ok(h.CommitUsage("gpt-4o", OpenAIUsage(1000, 0, 50, 0))); c.Nanos != 1000*2500+50*10000 {
		t.Fatalf("commit usage %+v", c)
	}
	_, err := run.Reserve(MustUSD("0.30"), 0)
	var d *DeniedError
	if !errors.As(err, &d) || d.Reason != ReasonRunHard {
		t.Fatalf("reserve over: %v", err)
	}
}

func TestLifetimeAndErrors(t *testing.T) {
	l := open(t)
	id := rid("life")
	a := ok(l.Begin(id, RunOptions{}))
	b := ok(l.Begin(id, RunOptions{}))
	if !a.Created() || b.Created() {
		t.Fatal("created flags")
	}
	ok(b.Charge(5))
	b.Detach()
	if _, err := b.Charge(1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("after detach: %v", err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close with an open run must refuse")
	}
	if st := ok(a.Status()); st.SpentNanos != 5 {
		t.Fatalf("spent %d", st.SpentNanos)
	}
	if err := a.End(); err != nil {
		t.Fatal(err)
	}
	a.Detach() // after End: a no-op
	if _, err := l.Begin(id, RunOptions{}); !errors.Is(err, ErrRunClosed) {
		t.Fatalf("begin ended: %v", err)
	}
	if _, err := l.Begin("has space", RunOptions{}); !errors.Is(err, ErrInvalidRunID) {
		t.Fatalf("bad id: %v", err)
	} else if err.(*Error).Name() != "AB_ERR_INVALID_RUN_ID" {
		t.Fatalf("name %s", err.(*Error).Name())
	}
	if _, err := l.Begin(rid("lab"), RunOptions{Labels: "nolabel"}); !errors.Is(err, ErrInvalidLabels) {
		t.Fatalf("bad labels: %v", err)
	}
	loopy := ok(l.Begin(rid("loop"), RunOptions{LoopLimit: 3}))
	_ = loopy.AdmitFingerprint(0, 42)
	_ = loopy.AdmitFingerprint(0, 42)
	var d *DeniedError
	if err := loopy.AdmitFingerprint(0, 42); !errors.As(err, &d) || d.Reason != ReasonLoop {
		t.Fatalf("loop: %v", err)
	}
	loopy.End()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoLedgerFailOpenOrClosed(t *testing.T) {
	name := os.Getenv("AGENTBUDGET_LEDGER")
	if name == "" {
		t.Skip("no ledger")
	}
	if _, err := Open(name + "-absent"); !errors.Is(err, ErrNoLedger) {
		t.Fatalf("fail closed: %v", err)
	}
	if l, err := OpenOrNil(name + "-absent"); l != nil || err != nil {
		t.Fatalf("fail open: %v %v", l, err)
	}
}

func TestGoroutinesShareARunExactly(t *testing.T) {
	l := open(t)
	defer l.Close()
	run := ok(l.Begin(rid("goroutines"), RunOptions{}))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if _, err := run.Charge(3); err != nil {
					t.Error(err)
					return
				}
			}
			for i := 0; i < 200; i++ {
				h, err := run.Reserve(7, 0)
				if err != nil {
					t.Error(err)
					return
				}
				h.Commit(7)
			}
		}()
	}
	wg.Wait()
	st := ok(run.Status())
	if st.SpentNanos != 8*2000*3+8*200*7 || st.Calls != 8*2200 || st.HeldNanos != 0 {
		t.Fatalf("status %+v", st)
	}
	// End while goroutines charge: they get ErrHandleClosed, never a use after free.
	var stop int32
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.LoadInt32(&stop) == 0 {
				if _, err := run.Charge(1); err != nil {
					if !errors.Is(err, ErrInvalidArgument) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	if err := run.End(); err != nil {
		t.Fatal(err)
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
}

// BenchmarkCharge: one Charge through the binding (cgo call plus the handle's read lock).
func BenchmarkCharge(b *testing.B) {
	l := open(b)
	defer l.Close()
	run := ok(l.Begin(rid("bench"), RunOptions{}))
	defer run.End()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run.Charge(1)
	}
}
