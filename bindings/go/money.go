package agentbudget

/*
#include <stdlib.h>
#include "agentbudget.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// NanosPerUSD is one USD in nanos; money is integer nano-USD everywhere.
const NanosPerUSD int64 = 1_000_000_000

// USD parses a decimal USD amount ("0.80", "$2.50", "1e-3") into nanos, exactly
// (ab_usd_parse). Negative, malformed, finer than a nano or above $1,000,000:
// ErrInvalidAmount.
func USD(text string) (int64, error) {
	if strings.IndexByte(text, 0) >= 0 {
		return 0, &Error{Code: int(C.AB_ERR_INVALID_AMOUNT), Detail: fmt.Sprintf("%q", text)}
	}
	c := C.CString(text)
	defer C.free(unsafe.Pointer(c))
	var out C.int64_t
	if rc := C.ab_usd_parse(c, &out); rc != C.AB_OK {
		return 0, &Error{Code: int(rc), Detail: fmt.Sprintf("%q", text)}
	}
	return int64(out), nil
}

// MustUSD is USD for constants; it panics on bad text.
func MustUSD(text string) int64 {
	v, err := USD(text)
	if err != nil {
		panic(err)
	}
	return v
}

// USDFloat converts a float USD amount to nanos, rounded to the nearest nano
// (ab_usd_from_double). NaN, infinite, negative or above $1,000,000: ErrInvalidAmount.
func USDFloat(usd float64) (int64, error) {
	var out C.int64_t
	if rc := C.ab_usd_from_double(C.double(usd), &out); rc != C.AB_OK {
		return 0, &Error{Code: int(rc), Detail: fmt.Sprint(usd)}
	}
	return int64(out), nil
}

// FormatUSD formats nanos as "$1.234567890".
func FormatUSD(nanos int64) string {
	sign := ""
	if nanos < 0 {
		sign, nanos = "-", -nanos
	}
	return fmt.Sprintf("%s$%d.%09d", sign, nanos/NanosPerUSD, nanos%NanosPerUSD)
}
