//! Raw declarations of the C ABI in `capi/agentbudget.h`. Every item mirrors the header;
//! see it for the contract of each function.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int};

pub const AB_OK: c_int = 0;
pub const AB_DENIED: c_int = 1;
pub const AB_ERR_INVALID_ARGUMENT: c_int = -1;
pub const AB_ERR_INVALID_RUN_ID: c_int = -2;
pub const AB_ERR_INVALID_AMOUNT: c_int = -3;
pub const AB_ERR_NO_LEDGER: c_int = -4;
pub const AB_ERR_PERMISSION: c_int = -5;
pub const AB_ERR_INCOMPATIBLE: c_int = -6;
pub const AB_ERR_CORRUPT: c_int = -7;
pub const AB_ERR_NOT_READY: c_int = -8;
pub const AB_ERR_TABLE_FULL: c_int = -9;
pub const AB_ERR_BUSY: c_int = -10;
pub const AB_ERR_STALE_HANDLE: c_int = -11;
pub const AB_ERR_RUN_CLOSED: c_int = -12;
pub const AB_ERR_UNKNOWN_MODEL: c_int = -13;
pub const AB_ERR_INVALID_USAGE: c_int = -14;
pub const AB_ERR_OVERFLOW: c_int = -15;
pub const AB_ERR_INVALID_LABELS: c_int = -16;
pub const AB_ERR_SYSTEM: c_int = -17;
pub const AB_ERR_NOT_FOUND: c_int = -18;

pub const AB_NANOS_PER_USD: i64 = 1_000_000_000;
pub const AB_NO_LIMIT: i64 = i64::MAX;
pub const AB_RUN_ID_MAX: usize = 127;

pub const AB_CHARGE_OVER_SOFT: u32 = 0x1;
pub const AB_CHARGE_OVER_HARD: u32 = 0x2;
pub const AB_CHARGE_CROSSED_SOFT: u32 = 0x4;
pub const AB_CHARGE_CROSSED_HARD: u32 = 0x8;
pub const AB_CHARGE_UNPRICED: u32 = 0x10;
pub const AB_CHARGE_HOLD_EXPIRED: u32 = 0x20;

pub const AB_USAGE_OPENAI: u32 = 0;
pub const AB_USAGE_ANTHROPIC: u32 = 1;
pub const AB_USAGE_REASONING_SEPARATE: u32 = 0x1;

pub const AB_RUN_ACTIVE: u32 = 2;
pub const AB_RUN_CLOSED: u32 = 3;

#[repr(C)]
pub struct ab_ledger {
    _private: [u8; 0],
}

#[repr(C)]
pub struct ab_run {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ab_begin_options {
    pub struct_size: u32,
    pub flags: u32,
    pub hard_nanos: i64,
    pub soft_nanos: i64,
    pub labels: *const c_char,
    pub max_calls: u32,
    pub max_in_flight: u32,
    pub loop_limit: u32,
    pub max_duration_s: u32,
    pub max_tokens: u64,
    pub parent: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ab_usage {
    pub struct_size: u32,
    pub shape: u32,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub flags: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ab_hold {
    pub index: u32,
    pub generation: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ab_run_status {
    pub struct_size: u32,
    pub state: u32,
    pub spent_nanos: i64,
    pub hard_nanos: i64,
    pub soft_nanos: [i64; 4],
    pub calls: u64,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub begun_unix_ns: u64,
    pub first_charge_unix_ns: u64,
    pub last_charge_unix_ns: u64,
    pub closed_unix_ns: u64,
    pub policy: [c_char; 64],
    pub held_nanos: i64,
    pub overshoot_nanos: i64,
    pub in_flight: u32,
    pub looped: u32,
    pub child_spent_nanos: i64,
    pub last_denial: i32,
    pub reserved: u32,
    pub last_denial_pool: [c_char; 64],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ab_pool_status {
    pub struct_size: u32,
    pub reserved: u32,
    pub spent_nanos: i64,
    pub held_nanos: i64,
    pub hard_nanos: i64,
    pub previous_spent_nanos: i64,
    pub period: u64,
    pub next_reset_unix_s: i64,
}

extern "C" {
    pub fn ab_version_number() -> u32;
    pub fn ab_version_string() -> *const c_char;
    pub fn ab_strerror(status: c_int) -> *const c_char;
    pub fn ab_status_name(status: c_int) -> *const c_char;
    pub fn ab_last_error_detail() -> *const c_char;
    pub fn ab_reason_name(reason: c_int) -> *const c_char;

    pub fn ab_ledger_open(name: *const c_char, out: *mut *mut ab_ledger) -> c_int;
    pub fn ab_ledger_close(ledger: *mut ab_ledger);

    pub fn ab_run_begin(
        ledger: *mut ab_ledger,
        run_id: *const c_char,
        opts: *const ab_begin_options,
        out: *mut *mut ab_run,
    ) -> c_int;
    pub fn ab_run_created(run: *const ab_run) -> c_int;
    pub fn ab_run_end(run: *mut ab_run) -> c_int;
    pub fn ab_run_detach(run: *mut ab_run);

    pub fn ab_charge(run: *mut ab_run, nanos: i64, flags_out: *mut u32) -> c_int;
    pub fn ab_charge_usage(
        run: *mut ab_run,
        model: *const c_char,
        usage: *const ab_usage,
        cost_out: *mut i64,
        flags_out: *mut u32,
    ) -> c_int;
    pub fn ab_price(ledger: *mut ab_ledger, model: *const c_char, usage: *const ab_usage, cost_out: *mut i64) -> c_int;
    pub fn ab_admit(run: *mut ab_run, estimate_nanos: i64, reason_out: *mut i32) -> c_int;
    pub fn ab_admit_fp(run: *mut ab_run, estimate_nanos: i64, fingerprint: u64, reason_out: *mut i32) -> c_int;

    pub fn ab_reserve(
        run: *mut ab_run,
        estimate_nanos: i64,
        fingerprint: u64,
        hold_out: *mut ab_hold,
        reason_out: *mut i32,
    ) -> c_int;
    pub fn ab_commit(run: *mut ab_run, hold: ab_hold, actual_nanos: i64, flags_out: *mut u32) -> c_int;
    pub fn ab_commit_usage(
        run: *mut ab_run,
        hold: ab_hold,
        model: *const c_char,
        usage: *const ab_usage,
        cost_out: *mut i64,
        flags_out: *mut u32,
    ) -> c_int;
    pub fn ab_release(run: *mut ab_run, hold: ab_hold) -> c_int;
    pub fn ab_estimate(
        ledger: *mut ab_ledger,
        model: *const c_char,
        prompt_tokens: u64,
        max_output_tokens: u64,
        estimate_out: *mut i64,
    ) -> c_int;
    pub fn ab_estimate_for_run(
        run: *mut ab_run,
        model: *const c_char,
        prompt_tokens: u64,
        max_output_tokens: u64,
        estimate_out: *mut i64,
    ) -> c_int;

    pub fn ab_pool_status_get(ledger: *mut ab_ledger, name: *const c_char, out: *mut ab_pool_status) -> c_int;
    pub fn ab_run_status_get(run: *mut ab_run, out: *mut ab_run_status) -> c_int;

    pub fn ab_usd_parse(text: *const c_char, nanos_out: *mut i64) -> c_int;
    pub fn ab_usd_from_double(usd: f64, nanos_out: *mut i64) -> c_int;
}
