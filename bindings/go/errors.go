package agentbudget

/*
#include "agentbudget.h"
*/
import "C"

import "fmt"

// Error is a failure of the C ABI: Code is a negative AB_ERR_* status. Compare with
// errors.Is against the Err* values (ErrInvalidAmount, ErrNoLedger, ...), which match
// any Error of the same code.
type Error struct {
	Code   int
	Detail string
}

// Name is the code's macro name ("AB_ERR_INVALID_AMOUNT").
func (e *Error) Name() string { return C.GoString(C.ab_status_name(C.int(e.Code))) }

func (e *Error) Error() string {
	msg := e.Name() + ": " + C.GoString(C.ab_strerror(C.int(e.Code)))
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The status codes, for errors.Is. ErrDenied matches every *DeniedError.
var (
	ErrDenied          = &Error{Code: int(C.AB_DENIED)}
	ErrInvalidArgument = &Error{Code: int(C.AB_ERR_INVALID_ARGUMENT)}
	ErrInvalidRunID    = &Error{Code: int(C.AB_ERR_INVALID_RUN_ID)}
	ErrInvalidAmount   = &Error{Code: int(C.AB_ERR_INVALID_AMOUNT)}
	ErrNoLedger        = &Error{Code: int(C.AB_ERR_NO_LEDGER)}
	ErrPermission      = &Error{Code: int(C.AB_ERR_PERMISSION)}
	ErrIncompatible    = &Error{Code: int(C.AB_ERR_INCOMPATIBLE)}
	ErrCorrupt         = &Error{Code: int(C.AB_ERR_CORRUPT)}
	ErrNotReady        = &Error{Code: int(C.AB_ERR_NOT_READY)}
	ErrTableFull       = &Error{Code: int(C.AB_ERR_TABLE_FULL)}
	ErrBusy            = &Error{Code: int(C.AB_ERR_BUSY)}
	ErrStaleHandle     = &Error{Code: int(C.AB_ERR_STALE_HANDLE)}
	ErrRunClosed       = &Error{Code: int(C.AB_ERR_RUN_CLOSED)}
	ErrUnknownModel    = &Error{Code: int(C.AB_ERR_UNKNOWN_MODEL)}
	ErrInvalidUsage    = &Error{Code: int(C.AB_ERR_INVALID_USAGE)}
	ErrOverflow        = &Error{Code: int(C.AB_ERR_OVERFLOW)}
	ErrInvalidLabels   = &Error{Code: int(C.AB_ERR_INVALID_LABELS)}
	ErrSystem          = &Error{Code: int(C.AB_ERR_SYSTEM)}
	ErrNotFound        = &Error{Code: int(C.AB_ERR_NOT_FOUND)}
)

// ErrHandleClosed is returned by calls on a Run or Ledger after End, Detach or Close.
var ErrHandleClosed = &Error{Code: int(C.AB_ERR_INVALID_ARGUMENT), Detail: "the handle was ended, detached or closed"}

// Reason is why a limit denied a call (AB_REASON_*).
type Reason int

const (
	ReasonNone        Reason = C.AB_REASON_NONE
	ReasonRunHard     Reason = C.AB_REASON_RUN_HARD
	ReasonPool        Reason = C.AB_REASON_POOL
	ReasonCalls       Reason = C.AB_REASON_CALLS
	ReasonTokens      Reason = C.AB_REASON_TOKENS
	ReasonDuration    Reason = C.AB_REASON_DURATION
	ReasonConcurrency Reason = C.AB_REASON_CONCURRENCY
	ReasonLoop        Reason = C.AB_REASON_LOOP
	ReasonClosed      Reason = C.AB_REASON_CLOSED
	ReasonUnpriced    Reason = C.AB_REASON_UNPRICED
	ReasonParent      Reason = C.AB_REASON_PARENT
)

// String is the library's short name ("run_hard_limit").
func (r Reason) String() string { return C.GoString(C.ab_reason_name(C.int(r))) }

// DeniedError is a denial by a limit (AB_DENIED). errors.Is(err, ErrDenied) holds;
// errors.As(err, &denied) gives the reason.
type DeniedError struct {
	RunID  string
	Reason Reason
	Pool   string // for ReasonPool: the pool's name
}

func (e *DeniedError) Error() string {
	if e.Pool != "" {
		return fmt.Sprintf("run %q denied: %s (pool %q)", e.RunID, e.Reason, e.Pool)
	}
	return fmt.Sprintf("run %q denied: %s", e.RunID, e.Reason)
}

// Is matches ErrDenied.
func (e *DeniedError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == int(C.AB_DENIED)
}

func statusErr(rc C.int, detail string) error {
	if rc == C.AB_OK {
		return nil
	}
	return &Error{Code: int(rc), Detail: detail}
}
