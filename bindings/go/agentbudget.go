// Package agentbudget is the Go binding of libagentbudget (capi/agentbudget.h):
// run-level cost budgets for AI agents, admitted and charged with atomics on the
// shared-memory ledger that agentbudgetd owns.
//
//	ledger, err := agentbudget.Open("")          // $AGENTBUDGET_LEDGER, else "agentbudget"
//	if errors.Is(err, agentbudget.ErrNoLedger) { /* fail open or closed: your choice */ }
//	defer ledger.Close()
//	run, err := ledger.Begin("task-42", agentbudget.RunOptions{Hard: agentbudget.MustUSD("2.50")})
//	defer run.Detach()
//	if err := run.Admit(0); errors.Is(err, agentbudget.ErrDenied) { ... }
//	cost, err := run.ChargeUsage("claude-sonnet-4-5-20250929", agentbudget.AnthropicUsage(3, 0, 12304, 0, 550))
//
// Money is integer nano-USD (int64). Errors are values: *Error carries the AB_ERR_*
// code (errors.Is(err, ErrInvalidAmount)), *DeniedError the denial reason
// (errors.As(err, &denied); errors.Is(err, ErrDenied)).
//
// Goroutines: a Ledger and a Run may be used from any number of goroutines. End,
// Detach and Close wait for calls in progress on the handle (a read-write lock), as
// the C ABI requires; later calls return ErrHandleClosed.
package agentbudget

/*
#cgo CFLAGS: -I${SRCDIR}/../../capi
#cgo LDFLAGS: -lagentbudget
#include <stdlib.h>
#include "agentbudget.h"
*/
import "C"

import (
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// NoLimit is a hard limit that never binds (AB_NO_LIMIT).
const NoLimit int64 = int64(^uint64(0) >> 1)

// Version is the version of the library actually loaded.
func Version() string { return C.GoString(C.ab_version_string()) }

func cstr(s, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Code: int(C.AB_ERR_INVALID_ARGUMENT), Detail: what + " contains a NUL byte"}
	}
	return C.CString(s), nil
}

func lastDetail() string { return C.GoString(C.ab_last_error_detail()) }

// Ledger is a mapped ledger (ab_ledger_open).
type Ledger struct {
	mu   sync.RWMutex
	raw  *C.ab_ledger
	runs int64 // open Run handles
}

// Open maps the ledger NAME ("" for $AGENTBUDGET_LEDGER, else "agentbudget"). With no
// ledger at all (the daemon never started) the error is ErrNoLedger: see OpenOrNil
// to fail open.
func Open(name string) (*Ledger, error) {
	var cname *C.char
	if name != "" {
		var err error
		if cname, err = cstr(name, "ledger name"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cname))
	}
	var raw *C.ab_ledger
	if rc := C.ab_ledger_open(cname, &raw); rc != C.AB_OK {
		return nil, &Error{Code: int(rc), Detail: lastDetail()}
	}
	return &Ledger{raw: raw}, nil
}

// OpenOrNil fails open: (nil, nil) when no ledger exists, so the caller goes on
// without budgets; every other failure is still an error.
func OpenOrNil(name string) (*Ledger, error) {
	l, err := Open(name)
	if err != nil && err.(*Error).Code == int(C.AB_ERR_NO_LEDGER) {
		return nil, nil
	}
	return l, err
}

// Close unmaps the ledger. Every Run of it must be ended or detached first
// (otherwise Close returns ErrInvalidArgument and leaves the ledger mapped).
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.raw == nil {
		return nil
	}
	if atomic.LoadInt64(&l.runs) != 0 {
		return &Error{Code: int(C.AB_ERR_INVALID_ARGUMENT), Detail: "runs of this ledger are still open"}
	}
	C.ab_ledger_close(l.raw)
	l.raw = nil
	return nil
}

// RunOptions of Begin. Each limit can only lower the policy's; zero values mean
// "the policy's".
type RunOptions struct {
	Hard         int64  // hard limit in nanos; 0 = the policy's (use MustUSD / USD)
	Soft         int64  // extra soft threshold in nanos; 0 = none
	Labels       string // "agent=x,team=y"; "policy=NAME" names a policy
	MaxCalls     uint32
	MaxInFlight  uint32
	LoopLimit    uint32
	MaxDurationS uint32
	MaxTokens    uint64
	Parent       string // the active run this one is a sub-agent of
}

// Begin begins the run RUN_ID, or attaches to it if any process already began it.
func (l *Ledger) Begin(runID string, o RunOptions) (*Run, error) {
	if o.Hard < 0 || o.Soft < 0 {
		return nil, &Error{Code: int(C.AB_ERR_INVALID_AMOUNT), Detail: "negative limit"}
	}
	id, err := cstr(runID, "run id")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(id))
	var opts C.ab_begin_options
	opts.struct_size = C.uint32_t(C.sizeof_ab_begin_options)
	opts.hard_nanos, opts.soft_nanos = -1, -1
	if o.Hard > 0 {
		opts.hard_nanos = C.int64_t(o.Hard)
	}
	if o.Soft > 0 {
		opts.soft_nanos = C.int64_t(o.Soft)
	}
	if o.Labels != "" {
		if opts.labels, err = cstr(o.Labels, "labels"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(opts.labels))
	}
	if o.Parent != "" {
		if opts.parent, err = cstr(o.Parent, "parent"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(opts.parent))
	}
	opts.max_calls = C.uint32_t(o.MaxCalls)
	opts.max_in_flight = C.uint32_t(o.MaxInFlight)
	opts.loop_limit = C.uint32_t(o.LoopLimit)
	opts.max_duration_s = C.uint32_t(o.MaxDurationS)
	opts.max_tokens = C.uint64_t(o.MaxTokens)

	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.raw == nil {
		return nil, ErrHandleClosed
	}
	var raw *C.ab_run
	if rc := C.ab_run_begin(l.raw, id, &opts, &raw); rc != C.AB_OK {
		return nil, &Error{Code: int(rc), Detail: lastDetail()}
	}
	atomic.AddInt64(&l.runs, 1)
	return &Run{raw: raw, ledger: l, id: runID, created: C.ab_run_created(raw) == 1}, nil
}

// Price returns the nanos USAGE of MODEL costs, charging nothing.
func (l *Ledger) Price(model string, u Usage) (int64, error) {
	m, err := cstr(model, "model")
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(m))
	cu := u.toC()
	var out C.int64_t
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.raw == nil {
		return 0, ErrHandleClosed
	}
	return int64(out), statusErr(C.ab_price(l.raw, m, &cu, &out), "")
}

// Run is a handle to one run. End ends the run for every process; Detach frees the
// handle and leaves the run to the others. Use one of them (defer run.Detach() is safe
// after End).
type Run struct {
	mu      sync.RWMutex
	raw     *C.ab_run
	ledger  *Ledger
	id      string
	created bool
}

// ID is the run id.
func (r *Run) ID() string { return r.id }

// Created reports whether this process created the run (false: it attached).
func (r *Run) Created() bool { return r.created }

func (r *Run) release() *C.ab_run {
	raw := r.raw
	if raw != nil {
		r.raw = nil
		atomic.AddInt64(&r.ledger.runs, -1)
	}
	return raw
}

// End ends the run for every process (later admissions: ReasonClosed; later charges:
// ErrRunClosed) and frees the handle. A second End or Detach is a no-op.
func (r *Run) End() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if raw := r.release(); raw != nil {
		return statusErr(C.ab_run_end(raw), "")
	}
	return nil
}

// Detach frees the handle without ending the run. Idempotent.
func (r *Run) Detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if raw := r.release(); raw != nil {
		C.ab_run_detach(raw)
	}
}

// Charge is what a charge or commit recorded, and where the run now stands.
type Charge struct {
	Nanos int64
	Flags uint32 // AB_CHARGE_* bits
}

func (c Charge) OverSoft() bool    { return c.Flags&C.AB_CHARGE_OVER_SOFT != 0 }
func (c Charge) OverHard() bool    { return c.Flags&C.AB_CHARGE_OVER_HARD != 0 }
func (c Charge) CrossedSoft() bool { return c.Flags&C.AB_CHARGE_CROSSED_SOFT != 0 }
func (c Charge) CrossedHard() bool { return c.Flags&C.AB_CHARGE_CROSSED_HARD != 0 }
func (c Charge) Unpriced() bool    { return c.Flags&C.AB_CHARGE_UNPRICED != 0 }
func (c Charge) HoldExpired() bool { return c.Flags&C.AB_CHARGE_HOLD_EXPIRED != 0 }

// Charge records NANOS already spent: always, even past the hard limit.
func (r *Run) Charge(nanos int64) (Charge, error) {
	var flags C.uint32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return Charge{}, ErrHandleClosed
	}
	if rc := C.ab_charge(r.raw, C.int64_t(nanos), &flags); rc != C.AB_OK {
		return Charge{}, statusErr(rc, "")
	}
	return Charge{Nanos: nanos, Flags: uint32(flags)}, nil
}

// ChargeUSD charges a decimal USD amount, parsed exactly.
func (r *Run) ChargeUSD(text string) (Charge, error) {
	n, err := USD(text)
	if err != nil {
		return Charge{}, err
	}
	return r.Charge(n)
}

// ChargeUsage prices USAGE of MODEL with the daemon's price table and charges it.
func (r *Run) ChargeUsage(model string, u Usage) (Charge, error) {
	m, err := cstr(model, "model")
	if err != nil {
		return Charge{}, err
	}
	defer C.free(unsafe.Pointer(m))
	cu := u.toC()
	var cost C.int64_t
	var flags C.uint32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return Charge{}, ErrHandleClosed
	}
	if rc := C.ab_charge_usage(r.raw, m, &cu, &cost, &flags); rc != C.AB_OK {
		return Charge{}, statusErr(rc, "")
	}
	return Charge{Nanos: int64(cost), Flags: uint32(flags)}, nil
}

// denied builds the DeniedError; the caller holds r.mu.
func (r *Run) denied(reason C.int32_t) error {
	d := &DeniedError{RunID: r.id, Reason: Reason(reason)}
	if d.Reason == ReasonPool {
		var s C.ab_run_status
		s.struct_size = C.uint32_t(C.sizeof_ab_run_status)
		if C.ab_run_status_get(r.raw, &s) == C.AB_OK {
			d.Pool = C.GoString(&s.last_denial_pool[0])
		}
	}
	return d
}

// Admit asks before a call: may one costing up to ESTIMATE go ahead (0: is any budget
// left)? It reserves nothing. A denial is a *DeniedError.
func (r *Run) Admit(estimate int64) error { return r.AdmitFingerprint(estimate, 0) }

// AdmitFingerprint is Admit with the loop guard: FINGERPRINT hashes the action (0 = none).
func (r *Run) AdmitFingerprint(estimate int64, fingerprint uint64) error {
	var reason C.int32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return ErrHandleClosed
	}
	rc := C.ab_admit_fp(r.raw, C.int64_t(estimate), C.uint64_t(fingerprint), &reason)
	if rc == C.AB_DENIED {
		return r.denied(reason)
	}
	return statusErr(rc, "")
}

// Estimate is the worst-case nanos of one call of MODEL (unknown models at the policy's
// fallback rates; 0 output tokens: the model's maximum).
func (r *Run) Estimate(model string, promptTokens, maxOutputTokens uint64) (int64, error) {
	m, err := cstr(model, "model")
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(m))
	var out C.int64_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return 0, ErrHandleClosed
	}
	return int64(out), statusErr(C.ab_estimate_for_run(r.raw, m, C.uint64_t(promptTokens), C.uint64_t(maxOutputTokens), &out), "")
}

// Hold is a granted reservation. Settle it once with Commit, CommitUsage or Release;
// `defer hold.Release()` right after Reserve is the idiom: after a commit it does
// nothing, and on an early return or a panic it gives the hold back.
type Hold struct {
	run      *Run
	h        C.ab_hold
	Estimate int64
	settled  int32
}

// Reserve reserves ESTIMATE nanos before a call (FINGERPRINT for the loop guard, 0 =
// none). Granted only if every level has room; a denial is a *DeniedError.
func (r *Run) Reserve(estimate int64, fingerprint uint64) (*Hold, error) {
	var h C.ab_hold
	var reason C.int32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return nil, ErrHandleClosed
	}
	rc := C.ab_reserve(r.raw, C.int64_t(estimate), C.uint64_t(fingerprint), &h, &reason)
	if rc == C.AB_DENIED {
		return nil, r.denied(reason)
	}
	if rc != C.AB_OK {
		return nil, statusErr(rc, "")
	}
	return &Hold{run: r, h: h, Estimate: estimate}, nil
}

// ErrSettled is returned by Commit and CommitUsage on a hold already settled.
var ErrSettled = &Error{Code: int(C.AB_ERR_INVALID_ARGUMENT), Detail: "the hold is already settled"}

// Commit settles the hold with what the call cost (may exceed the estimate). A commit
// refused for its amount leaves the hold unsettled.
func (h *Hold) Commit(actual int64) (Charge, error) {
	if atomic.LoadInt32(&h.settled) != 0 {
		return Charge{}, ErrSettled
	}
	r := h.run
	var flags C.uint32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return Charge{}, ErrHandleClosed
	}
	rc := C.ab_commit(r.raw, h.h, C.int64_t(actual), &flags)
	if rc == C.AB_ERR_INVALID_AMOUNT {
		return Charge{}, statusErr(rc, "")
	}
	if !atomic.CompareAndSwapInt32(&h.settled, 0, 1) {
		return Charge{}, ErrSettled
	}
	if rc != C.AB_OK {
		return Charge{}, statusErr(rc, "")
	}
	return Charge{Nanos: actual, Flags: uint32(flags)}, nil
}

// CommitUsage settles the hold with the priced USAGE of MODEL.
func (h *Hold) CommitUsage(model string, u Usage) (Charge, error) {
	if atomic.LoadInt32(&h.settled) != 0 {
		return Charge{}, ErrSettled
	}
	m, err := cstr(model, "model")
	if err != nil {
		return Charge{}, err
	}
	defer C.free(unsafe.Pointer(m))
	cu := u.toC()
	r := h.run
	var cost C.int64_t
	var flags C.uint32_t
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return Charge{}, ErrHandleClosed
	}
	rc := C.ab_commit_usage(r.raw, h.h, m, &cu, &cost, &flags)
	if rc == C.AB_ERR_INVALID_USAGE || rc == C.AB_ERR_INVALID_ARGUMENT || rc == C.AB_ERR_BUSY {
		return Charge{}, statusErr(rc, "") // nothing recorded: still unsettled
	}
	if !atomic.CompareAndSwapInt32(&h.settled, 0, 1) {
		return Charge{}, ErrSettled
	}
	if rc != C.AB_OK {
		return Charge{}, statusErr(rc, "")
	}
	return Charge{Nanos: int64(cost), Flags: uint32(flags)}, nil
}

// Release gives the hold back unused (the call was not made). On a hold already
// settled it does nothing and returns nil, so it can be deferred.
func (h *Hold) Release() error {
	if !atomic.CompareAndSwapInt32(&h.settled, 0, 1) {
		return nil
	}
	r := h.run
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return ErrHandleClosed
	}
	return statusErr(C.ab_release(r.raw, h.h), "")
}

// RunStatus is a run's counters (ab_run_status). HardNanos is NoLimit without a limit.
type RunStatus struct {
	Active                                                            bool
	SpentNanos, HardNanos, HeldNanos, OvershootNanos, ChildSpentNanos int64
	SoftNanos                                                         []int64
	Calls, InputTokens, CachedTokens, CacheWriteTokens, OutputTokens  uint64
	ReasoningTokens                                                   uint64
	InFlight                                                          uint32
	Looped                                                            bool
	Policy, LastDenialPool                                            string
	LastDenial                                                        Reason
	BegunUnixNs, FirstChargeUnixNs, LastChargeUnixNs, ClosedUnixNs    uint64
}

// Status reads the run's counters.
func (r *Run) Status() (RunStatus, error) {
	var s C.ab_run_status
	s.struct_size = C.uint32_t(C.sizeof_ab_run_status)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.raw == nil {
		return RunStatus{}, ErrHandleClosed
	}
	if rc := C.ab_run_status_get(r.raw, &s); rc != C.AB_OK {
		return RunStatus{}, statusErr(rc, "")
	}
	st := RunStatus{
		Active: s.state == C.AB_RUN_ACTIVE, SpentNanos: int64(s.spent_nanos), HardNanos: int64(s.hard_nanos),
		HeldNanos: int64(s.held_nanos), OvershootNanos: int64(s.overshoot_nanos), ChildSpentNanos: int64(s.child_spent_nanos),
		Calls: uint64(s.calls), InputTokens: uint64(s.input_tokens), CachedTokens: uint64(s.cached_tokens),
		CacheWriteTokens: uint64(s.cache_write_tokens), OutputTokens: uint64(s.output_tokens),
		ReasoningTokens: uint64(s.reasoning_tokens), InFlight: uint32(s.in_flight), Looped: s.looped != 0,
		Policy: C.GoString(&s.policy[0]), LastDenialPool: C.GoString(&s.last_denial_pool[0]),
		LastDenial: Reason(s.last_denial), BegunUnixNs: uint64(s.begun_unix_ns),
		FirstChargeUnixNs: uint64(s.first_charge_unix_ns), LastChargeUnixNs: uint64(s.last_charge_unix_ns),
		ClosedUnixNs: uint64(s.closed_unix_ns),
	}
	for _, v := range s.soft_nanos {
		if int64(v) != NoLimit {
			st.SoftNanos = append(st.SoftNanos, int64(v))
		}
	}
	return st, nil
}
