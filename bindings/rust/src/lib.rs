//! agentbudget: run-level cost budgets for AI agents. A safe binding of `libagentbudget`
//! (`capi/agentbudget.h`); the raw declarations are in [`ffi`].
//!
//! ```no_run
//! use agentbudget::{Ledger, RunOptions, Usage, usd};
//! let ledger = Ledger::open(None)?;                       // $AGENTBUDGET_LEDGER, else "agentbudget"
//! let run = ledger.run("task-42", &RunOptions::new().hard(usd("2.50")?).labels("agent=researcher"))?;
//! run.admit(0)?;                                          // Err(Error::Denied { .. }) once spent
//! let c = run.charge_usage("claude-sonnet-4-5-20250929", &Usage::anthropic(3, 0, 12304, 0, 550))?;
//! assert_eq!(c.nanos, 54_399_000);
//! run.end()?;
//! # Ok::<(), agentbudget::Error>(())
//! ```
//!
//! Money is integer nano-USD (`i64`, 1 USD = 1e9). [`usd`] parses decimal text exactly and
//! [`usd_f64`] rounds a float to the nearest nano; both refuse negative, NaN, infinite and
//! absurd amounts, as every entry point does.
//!
//! Threads: [`Ledger`] and [`Run`] are `Send` and `Sync`, as the C ABI allows concurrent
//! use of its handles; the calls it forbids to race with others (`ab_ledger_close`,
//! `ab_run_end`, `ab_run_detach`) take `self` by value or run in `Drop`, so the borrow
//! checker rules the race out. A `Run` borrows its `Ledger` and a [`Hold`] its `Run`, so
//! neither can outlive what it needs.

pub mod ffi;

use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::ptr;

/// Nano-USD.
pub type Nanos = i64;

/// One USD in nanos.
pub const NANOS_PER_USD: Nanos = ffi::AB_NANOS_PER_USD;

fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: the library returns NUL-terminated strings in static storage.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

fn last_detail() -> String {
    // SAFETY: thread-local, NUL-terminated, valid until the next failing call on this thread.
    let p = unsafe { ffi::ab_last_error_detail() };
    if p.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn cstring(s: &str, what: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::with_detail(ffi::AB_ERR_INVALID_ARGUMENT, format!("{} contains a NUL byte", what)))
}

fn cbuf(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Version of the library actually loaded ("0.2.0").
pub fn version() -> &'static str {
    static_str(unsafe { ffi::ab_version_string() })
}

// ---- Errors ------------------------------------------------------------------------------

/// Why a limit denied a call (`AB_REASON_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    RunHardLimit,
    PoolHardLimit,
    Calls,
    Tokens,
    Duration,
    Concurrency,
    Loop,
    Closed,
    Unpriced,
    Parent,
    /// A reason this binding does not know yet (a newer library).
    Other(i32),
}

impl Reason {
    pub fn from_code(code: i32) -> Reason {
        match code {
            1 => Reason::RunHardLimit,
            2 => Reason::PoolHardLimit,
            3 => Reason::Calls,
            4 => Reason::Tokens,
            5 => Reason::Duration,
            6 => Reason::Concurrency,
            7 => Reason::Loop,
            8 => Reason::Closed,
            9 => Reason::Unpriced,
            10 => Reason::Parent,
            c => Reason::Other(c),
        }
    }

    pub fn code(self) -> i32 {
        match self {
            Reason::RunHardLimit => 1,
            Reason::PoolHardLimit => 2,
            Reason::Calls => 3,
            Reason::Tokens => 4,
            Reason::Duration => 5,
            Reason::Concurrency => 6,
            Reason::Loop => 7,
            Reason::Closed => 8,
            Reason::Unpriced => 9,
            Reason::Parent => 10,
            Reason::Other(c) => c,
        }
    }

    /// The library's short name ("run_hard_limit").
    pub fn name(self) -> &'static str {
        static_str(unsafe { ffi::ab_reason_name(self.code()) })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure of the C ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A limit denied the call (`AB_DENIED`). `pool` names the pool for `PoolHardLimit`.
    Denied { reason: Reason, pool: Option<String> },
    /// Any other status: `code` is the negative `AB_ERR_*` value.
    Status { code: i32, detail: String },
}

impl Error {
    fn from_code(code: c_int) -> Error {
        Error::Status { code, detail: String::new() }
    }

    fn with_detail(code: c_int, detail: String) -> Error {
        Error::Status { code, detail }
    }

    /// The status code (`AB_DENIED` for a denial).
    pub fn code(&self) -> i32 {
        match self {
            Error::Denied { .. } => ffi::AB_DENIED,
            Error::Status { code, .. } => *code,
        }
    }

    /// The code's macro name ("AB_ERR_INVALID_AMOUNT", "AB_DENIED").
    pub fn name(&self) -> &'static str {
        static_str(unsafe { ffi::ab_status_name(self.code()) })
    }

    /// The denial reason, if a limit denied the call.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Denied { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied { reason, pool: Some(p) } => write!(f, "denied: {} (pool {})", reason, p),
            Error::Denied { reason, pool: None } => write!(f, "denied: {}", reason),
            Error::Status { code, detail } => {
                let msg = static_str(unsafe { ffi::ab_strerror(*code) });
                write!(f, "{}: {}", self.name(), msg)?;
                if !detail.is_empty() {
                    write!(f, " ({})", detail)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

fn check(rc: c_int) -> Result<(), Error> {
    if rc == ffi::AB_OK {
        Ok(())
    } else {
        Err(Error::from_code(rc))
    }
}

// ---- Money -------------------------------------------------------------------------------

/// Parses a decimal USD amount ("0.80", "$2.50", "1e-3") into nanos, exactly
/// (`ab_usd_parse`). Negative, malformed, finer than a nano or above $1,000,000: an
/// `AB_ERR_INVALID_AMOUNT` error.
pub fn usd(text: &str) -> Result<Nanos, Error> {
    let c = CString::new(text)
        .map_err(|_| Error::with_detail(ffi::AB_ERR_INVALID_AMOUNT, "amount contains a NUL byte".into()))?;
    let mut out: i64 = 0;
    let rc = unsafe { ffi::ab_usd_parse(c.as_ptr(), &mut out) };
    if rc != ffi::AB_OK {
        return Err(Error::with_detail(rc, format!("{:?}", text)));
    }
    Ok(out)
}

/// A float USD amount in nanos, rounded to the nearest nano (`ab_usd_from_double`); NaN,
/// infinite, negative or above $1,000,000: an `AB_ERR_INVALID_AMOUNT` error.
pub fn usd_f64(amount: f64) -> Result<Nanos, Error> {
    let mut out: i64 = 0;
    let rc = unsafe { ffi::ab_usd_from_double(amount, &mut out) };
    if rc != ffi::AB_OK {
        return Err(Error::with_detail(rc, format!("{}", amount)));
    }
    Ok(out)
}

// ---- Usage -------------------------------------------------------------------------------

/// How a provider counts prompt tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// OpenAI, Gemini, OpenRouter, LiteLLM: the prompt INCLUDES cached tokens.
    OpenAI,
    /// Anthropic: input EXCLUDES cache reads and writes.
    Anthropic,
}

/// Token counts of one call, as the provider reported them (`ab_usage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub shape: Shape,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// Reasoning is NOT included in `output_tokens` (Gemini's native API, some routes).
    pub reasoning_separate: bool,
}

impl Usage {
    /// OpenAI-style: `prompt_tokens`, `prompt_tokens_details.cached_tokens`,
    /// `completion_tokens`, `completion_tokens_details.reasoning_tokens`. A report whose
    /// reasoning exceeds its completion is taken as reasoning outside the completion.
    pub fn openai(prompt_tokens: u64, cached_tokens: u64, completion_tokens: u64, reasoning_tokens: u64) -> Usage {
        Usage {
            shape: Shape::OpenAI,
            input_tokens: prompt_tokens,
            cached_tokens,
            cache_write_5m_tokens: 0,
            cache_write_1h_tokens: 0,
            output_tokens: completion_tokens,
            reasoning_tokens,
            reasoning_separate: reasoning_tokens > completion_tokens,
        }
    }

    /// Anthropic Messages: `input_tokens`, `cache_read_input_tokens`, cache writes with a
    /// 5-minute TTL (`cache_creation.ephemeral_5m_input_tokens`, or
    /// `cache_creation_input_tokens` when the split is absent) and a 1-hour TTL
    /// (`ephemeral_1h_input_tokens`), `output_tokens`.
    pub fn anthropic(input_tokens: u64, cache_read: u64, cache_write_5m: u64, cache_write_1h: u64, output_tokens: u64) -> Usage {
        Usage {
            shape: Shape::Anthropic,
            input_tokens,
            cached_tokens: cache_read,
            cache_write_5m_tokens: cache_write_5m,
            cache_write_1h_tokens: cache_write_1h,
            output_tokens,
            reasoning_tokens: 0,
            reasoning_separate: false,
        }
    }

    /// Sets whether reasoning tokens are outside the output count.
    pub fn with_reasoning_separate(mut self, separate: bool) -> Usage {
        self.reasoning_separate = separate;
        self
    }

    fn to_c(&self) -> ffi::ab_usage {
        ffi::ab_usage {
            struct_size: std::mem::size_of::<ffi::ab_usage>() as u32,
            shape: match self.shape {
                Shape::OpenAI => ffi::AB_USAGE_OPENAI,
                Shape::Anthropic => ffi::AB_USAGE_ANTHROPIC,
            },
            input_tokens: self.input_tokens,
            cached_tokens: self.cached_tokens,
            cache_write_5m_tokens: self.cache_write_5m_tokens,
            cache_write_1h_tokens: self.cache_write_1h_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
            flags: if self.reasoning_separate { ffi::AB_USAGE_REASONING_SEPARATE } else { 0 },
            reserved: 0,
        }
    }
}

// ---- Results -----------------------------------------------------------------------------

/// What a charge or commit recorded, and where the run stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub nanos: Nanos,
    /// `AB_CHARGE_*` bits.
    pub flags: u32,
}

impl Charge {
    pub fn over_soft(&self) -> bool {
        self.flags & ffi::AB_CHARGE_OVER_SOFT != 0
    }
    /// At or past the hard limit: admissions now deny.
    pub fn over_hard(&self) -> bool {
        self.flags & ffi::AB_CHARGE_OVER_HARD != 0
    }
    pub fn crossed_soft(&self) -> bool {
        self.flags & ffi::AB_CHARGE_CROSSED_SOFT != 0
    }
    pub fn crossed_hard(&self) -> bool {
        self.flags & ffi::AB_CHARGE_CROSSED_HARD != 0
    }
    /// Priced at the policy's fallback rate (model not in the price table).
    pub fn unpriced(&self) -> bool {
        self.flags & ffi::AB_CHARGE_UNPRICED != 0
    }
    pub fn hold_expired(&self) -> bool {
        self.flags & ffi::AB_CHARGE_HOLD_EXPIRED != 0
    }
}

/// A run's counters (`ab_run_status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStatus {
    pub active: bool,
    pub spent_nanos: Nanos,
    /// None: no hard limit.
    pub hard_nanos: Option<Nanos>,
    pub soft_nanos: Vec<Nanos>,
    pub held_nanos: Nanos,
    pub overshoot_nanos: Nanos,
    pub child_spent_nanos: Nanos,
    pub calls: u64,
    pub in_flight: u32,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub policy: String,
    pub looped: bool,
    pub last_denial: Option<Reason>,
    pub last_denial_pool: Option<String>,
    pub begun_unix_ns: u64,
    pub first_charge_unix_ns: u64,
    pub last_charge_unix_ns: u64,
    pub closed_unix_ns: u64,
}

/// A pool's counters for its current period (`ab_pool_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub spent_nanos: Nanos,
    pub held_nanos: Nanos,
    pub hard_nanos: Option<Nanos>,
    pub previous_spent_nanos: Nanos,
    pub period: u64,
    pub next_reset_unix_s: Option<i64>,
}

// ---- Ledger ------------------------------------------------------------------------------

/// A mapped ledger (`ab_ledger_open`). Closed on drop, which the borrow checker only
/// allows once every [`Run`] of it is gone.
pub struct Ledger {
    raw: *mut ffi::ab_ledger,
}

// SAFETY: the header allows an ab_ledger to be used from any number of threads at once;
// ab_ledger_close runs only in Drop, when no other reference exists.
unsafe impl Send for Ledger {}
unsafe impl Sync for Ledger {}

impl Ledger {
    /// Maps the ledger NAME (None: `$AGENTBUDGET_LEDGER`, else "agentbudget"). With no
    /// ledger at all the error is `AB_ERR_NO_LEDGER` ([`Error::is_no_ledger`]): fail open
    /// or closed as you choose, e.g. with [`Ledger::open_or_none`].
    pub fn open(name: Option<&str>) -> Result<Ledger, Error> {
        let cname = match name {
            Some(n) => Some(cstring(n, "ledger name")?),
            None => None,
        };
        let mut raw: *mut ffi::ab_ledger = ptr::null_mut();
        let rc = unsafe { ffi::ab_ledger_open(cname.as_ref().map_or(ptr::null(), |c| c.as_ptr()), &mut raw) };
        if rc != ffi::AB_OK {
            return Err(Error::with_detail(rc, last_detail()));
        }
        Ok(Ledger { raw })
    }

    /// Fail open: `Ok(None)` when no ledger exists (the daemon never started), so the
    /// caller runs without budgets; every other failure is still an error.
    pub fn open_or_none(name: Option<&str>) -> Result<Option<Ledger>, Error> {
        match Ledger::open(name) {
            Ok(l) => Ok(Some(l)),
            Err(e) if e.code() == ffi::AB_ERR_NO_LEDGER => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Begins the run RUN_ID, or attaches to it if any process already began it.
    pub fn run(&self, run_id: &str, opts: &RunOptions) -> Result<Run<'_>, Error> {
        let id = cstring(run_id, "run id")?;
        let labels = match &opts.labels {
            Some(l) => Some(cstring(l, "labels")?),
            None => None,
        };
        let parent = match &opts.parent {
            Some(p) => Some(cstring(p, "parent")?),
            None => None,
        };
        let c = ffi::ab_begin_options {
            struct_size: std::mem::size_of::<ffi::ab_begin_options>() as u32,
            flags: 0,
            hard_nanos: opts.hard.unwrap_or(-1),
            soft_nanos: opts.soft.unwrap_or(-1),
            labels: labels.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            max_calls: opts.max_calls,
            max_in_flight: opts.max_in_flight,
            loop_limit: opts.loop_limit,
            max_duration_s: opts.max_duration_s,
            max_tokens: opts.max_tokens,
            parent: parent.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
        };
        // A limit given as a negative number would mean "the policy's": refuse it instead.
        if opts.hard.map_or(false, |v| v < 0) || opts.soft.map_or(false, |v| v < 0) {
            return Err(Error::with_detail(ffi::AB_ERR_INVALID_AMOUNT, "negative limit".into()));
        }
        let mut raw: *mut ffi::ab_run = ptr::null_mut();
        let rc = unsafe { ffi::ab_run_begin(self.raw, id.as_ptr(), &c, &mut raw) };
        if rc != ffi::AB_OK {
            return Err(Error::with_detail(rc, last_detail()));
        }
        let created = unsafe { ffi::ab_run_created(raw) } == 1;
        Ok(Run { raw, created, id: run_id.to_string(), _ledger: PhantomData })
    }

    /// Nanos that USAGE of MODEL costs, charging nothing.
    pub fn price(&self, model: &str, usage: &Usage) -> Result<Nanos, Error> {
        let m = cstring(model, "model")?;
        let u = usage.to_c();
        let mut out = 0i64;
        check(unsafe { ffi::ab_price(self.raw, m.as_ptr(), &u, &mut out) })?;
        Ok(out)
    }

    /// Worst-case nanos of one call (0 output tokens: the model's maximum).
    pub fn estimate(&self, model: &str, prompt_tokens: u64, max_output_tokens: u64) -> Result<Nanos, Error> {
        let m = cstring(model, "model")?;
        let mut out = 0i64;
        check(unsafe { ffi::ab_estimate(self.raw, m.as_ptr(), prompt_tokens, max_output_tokens, &mut out) })?;
        Ok(out)
    }

    pub fn pool_status(&self, name: &str) -> Result<PoolStatus, Error> {
        let n = cstring(name, "pool")?;
        let mut s = ffi::ab_pool_status { struct_size: std::mem::size_of::<ffi::ab_pool_status>() as u32, ..Default::default() };
        check(unsafe { ffi::ab_pool_status_get(self.raw, n.as_ptr(), &mut s) })?;
        Ok(PoolStatus {
            spent_nanos: s.spent_nanos,
            held_nanos: s.held_nanos,
            hard_nanos: if s.hard_nanos == ffi::AB_NO_LIMIT { None } else { Some(s.hard_nanos) },
            previous_spent_nanos: s.previous_spent_nanos,
            period: s.period,
            next_reset_unix_s: if s.next_reset_unix_s == i64::MAX { None } else { Some(s.next_reset_unix_s) },
        })
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        unsafe { ffi::ab_ledger_close(self.raw) }
    }
}

impl Error {
    /// True for `AB_ERR_NO_LEDGER`: the daemon never created the ledger.
    pub fn is_no_ledger(&self) -> bool {
        self.code() == ffi::AB_ERR_NO_LEDGER
    }
}

/// Options of [`Ledger::run`]; every limit can only lower the policy's.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub hard: Option<Nanos>,
    pub soft: Option<Nanos>,
    pub labels: Option<String>,
    pub max_calls: u32,
    pub max_in_flight: u32,
    pub loop_limit: u32,
    pub max_duration_s: u32,
    pub max_tokens: u64,
    pub parent: Option<String>,
}

impl RunOptions {
    pub fn new() -> RunOptions {
        RunOptions::default()
    }
    /// The run's hard limit in nanos (see [`usd`]).
    pub fn hard(mut self, nanos: Nanos) -> RunOptions {
        self.hard = Some(nanos);
        self
    }
    /// An extra soft threshold in nanos.
    pub fn soft(mut self, nanos: Nanos) -> RunOptions {
        self.soft = Some(nanos);
        self
    }
    /// "agent=x,team=y"; they select the policy ("policy=NAME" names one).
    pub fn labels(mut self, labels: &str) -> RunOptions {
        self.labels = Some(labels.to_string());
        self
    }
    pub fn max_calls(mut self, n: u32) -> RunOptions {
        self.max_calls = n;
        self
    }
    pub fn max_in_flight(mut self, n: u32) -> RunOptions {
        self.max_in_flight = n;
        self
    }
    pub fn loop_limit(mut self, n: u32) -> RunOptions {
        self.loop_limit = n;
        self
    }
    pub fn max_duration_s(mut self, s: u32) -> RunOptions {
        self.max_duration_s = s;
        self
    }
    pub fn max_tokens(mut self, n: u64) -> RunOptions {
        self.max_tokens = n;
        self
    }
    /// Begin as a sub-agent of the active run PARENT.
    pub fn parent(mut self, parent: &str) -> RunOptions {
        self.parent = Some(parent.to_string());
        self
    }
}

// ---- Run ---------------------------------------------------------------------------------

/// A handle to one run. Dropping it **detaches** (the run goes on for other processes and
/// keeps its spend); call [`Run::end`] to end the run for everyone.
pub struct Run<'l> {
    raw: *mut ffi::ab_run,
    created: bool,
    id: String,
    _ledger: PhantomData<&'l Ledger>,
}

// SAFETY: the header allows an ab_run to be used from any number of threads at once,
// except ab_run_end and ab_run_detach, which run only from `end(self)`, `detach(self)` or
// Drop, when no other reference exists.
unsafe impl Send for Run<'_> {}
unsafe impl Sync for Run<'_> {}

impl<'l> Run<'l> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True if this process created the run, false if it attached to it.
    pub fn created(&self) -> bool {
        self.created
    }

    /// Ends the run for every process (later admissions: `Reason::Closed`).
    pub fn end(self) -> Result<(), Error> {
        let raw = self.raw;
        std::mem::forget(self);
        check(unsafe { ffi::ab_run_end(raw) })
    }

    /// Frees the handle without ending the run (the same as dropping it).
    pub fn detach(self) {}

    /// Records NANOS already spent (always recorded, even past the limit).
    pub fn charge(&self, nanos: Nanos) -> Result<Charge, Error> {
        let mut flags = 0u32;
        check(unsafe { ffi::ab_charge(self.raw, nanos, &mut flags) })?;
        Ok(Charge { nanos, flags })
    }

    /// [`Run::charge`] of a decimal USD amount, parsed exactly.
    pub fn charge_usd(&self, amount: &str) -> Result<Charge, Error> {
        self.charge(usd(amount)?)
    }

    /// Prices USAGE of MODEL with the daemon's price table and charges it.
    pub fn charge_usage(&self, model: &str, usage: &Usage) -> Result<Charge, Error> {
        let m = cstring(model, "model")?;
        let u = usage.to_c();
        let (mut cost, mut flags) = (0i64, 0u32);
        check(unsafe { ffi::ab_charge_usage(self.raw, m.as_ptr(), &u, &mut cost, &mut flags) })?;
        Ok(Charge { nanos: cost, flags })
    }

    fn denied(&self, reason: i32) -> Error {
        let reason = Reason::from_code(reason);
        let pool = if reason == Reason::PoolHardLimit { self.status().ok().and_then(|s| s.last_denial_pool) } else { None };
        Error::Denied { reason, pool }
    }

    /// May a call costing up to ESTIMATE go ahead? (0: is any budget left.) Reserves nothing.
    pub fn admit(&self, estimate: Nanos) -> Result<(), Error> {
        self.admit_fp(estimate, 0)
    }

    /// [`Run::admit`] with the loop guard: FINGERPRINT hashes the action (0 = none).
    pub fn admit_fp(&self, estimate: Nanos, fingerprint: u64) -> Result<(), Error> {
        let mut reason = 0i32;
        let rc = unsafe { ffi::ab_admit_fp(self.raw, estimate, fingerprint, &mut reason) };
        if rc == ffi::AB_DENIED {
            return Err(self.denied(reason));
        }
        check(rc)
    }

    /// Reserves ESTIMATE before a call. The [`Hold`] must be committed or released;
    /// dropping it unsettled releases it (the call is taken as not made).
    pub fn reserve(&self, estimate: Nanos, fingerprint: u64) -> Result<Hold<'_, 'l>, Error> {
        let mut hold = ffi::ab_hold::default();
        let mut reason = 0i32;
        let rc = unsafe { ffi::ab_reserve(self.raw, estimate, fingerprint, &mut hold, &mut reason) };
        if rc == ffi::AB_DENIED {
            return Err(self.denied(reason));
        }
        check(rc)?;
        Ok(Hold { run: self, raw: hold, estimate, settled: false })
    }

    /// Worst-case nanos of one call of MODEL (unknown models at the policy's fallback rates).
    pub fn estimate(&self, model: &str, prompt_tokens: u64, max_output_tokens: u64) -> Result<Nanos, Error> {
        let m = cstring(model, "model")?;
        let mut out = 0i64;
        check(unsafe { ffi::ab_estimate_for_run(self.raw, m.as_ptr(), prompt_tokens, max_output_tokens, &mut out) })?;
        Ok(out)
    }

    /// The run's counters.
    pub fn status(&self) -> Result<RunStatus, Error> {
        // SAFETY: plain data; all-zero is a valid value.
        let mut s: ffi::ab_run_status = unsafe { std::mem::zeroed() };
        s.struct_size = std::mem::size_of::<ffi::ab_run_status>() as u32;
        check(unsafe { ffi::ab_run_status_get(self.raw, &mut s) })?;
        let pool = cbuf(&s.last_denial_pool);
        Ok(RunStatus {
            active: s.state == ffi::AB_RUN_ACTIVE,
            spent_nanos: s.spent_nanos,
            hard_nanos: if s.hard_nanos == ffi::AB_NO_LIMIT { None } else { Some(s.hard_nanos) },
            soft_nanos: s.soft_nanos.iter().copied().filter(|&v| v != ffi::AB_NO_LIMIT).collect(),
            held_nanos: s.held_nanos,
            overshoot_nanos: s.overshoot_nanos,
            child_spent_nanos: s.child_spent_nanos,
            calls: s.calls,
            in_flight: s.in_flight,
            input_tokens: s.input_tokens,
            cached_tokens: s.cached_tokens,
            cache_write_tokens: s.cache_write_tokens,
            output_tokens: s.output_tokens,
            reasoning_tokens: s.reasoning_tokens,
            policy: cbuf(&s.policy),
            looped: s.looped != 0,
            last_denial: if s.last_denial == 0 { None } else { Some(Reason::from_code(s.last_denial)) },
            last_denial_pool: if pool.is_empty() { None } else { Some(pool) },
            begun_unix_ns: s.begun_unix_ns,
            first_charge_unix_ns: s.first_charge_unix_ns,
            last_charge_unix_ns: s.last_charge_unix_ns,
            closed_unix_ns: s.closed_unix_ns,
        })
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        unsafe { ffi::ab_run_detach(self.raw) }
    }
}

// ---- Hold --------------------------------------------------------------------------------

/// A granted reservation; settle it once with [`Hold::commit`], [`Hold::commit_usage`] or
/// [`Hold::release`]. Dropped unsettled (an early return, `?`, a panic) it is released: the
/// call is taken as not made. A commit refused for a bad amount or usage leaves the hold
/// unsettled, so the caller can commit a corrected amount.
pub struct Hold<'r, 'l> {
    run: &'r Run<'l>,
    raw: ffi::ab_hold,
    estimate: Nanos,
    settled: bool,
}

impl Hold<'_, '_> {
    /// The nanos reserved.
    pub fn estimate(&self) -> Nanos {
        self.estimate
    }

    /// True once committed or released.
    pub fn settled(&self) -> bool {
        self.settled
    }

    fn unsettled(&self) -> Result<(), Error> {
        if self.settled {
            Err(Error::with_detail(ffi::AB_ERR_INVALID_ARGUMENT, "the hold is already settled".into()))
        } else {
            Ok(())
        }
    }

    /// Settles the hold with what the call cost (may exceed the estimate).
    pub fn commit(&mut self, actual: Nanos) -> Result<Charge, Error> {
        self.unsettled()?;
        let mut flags = 0u32;
        let rc = unsafe { ffi::ab_commit(self.run.raw, self.raw, actual, &mut flags) };
        if rc == ffi::AB_ERR_INVALID_AMOUNT {
            return Err(Error::from_code(rc)); // still unsettled: commit again, or Drop releases it
        }
        self.settled = true;
        check(rc)?;
        Ok(Charge { nanos: actual, flags })
    }

    /// Settles the hold with the priced USAGE of MODEL.
    pub fn commit_usage(&mut self, model: &str, usage: &Usage) -> Result<Charge, Error> {
        self.unsettled()?;
        let m = cstring(model, "model")?;
        let u = usage.to_c();
        let (mut cost, mut flags) = (0i64, 0u32);
        let rc = unsafe { ffi::ab_commit_usage(self.run.raw, self.raw, m.as_ptr(), &u, &mut cost, &mut flags) };
        if rc == ffi::AB_ERR_INVALID_USAGE || rc == ffi::AB_ERR_INVALID_ARGUMENT || rc == ffi::AB_ERR_BUSY {
            return Err(Error::from_code(rc)); // nothing recorded: still unsettled
        }
        self.settled = true;
        check(rc)?;
        Ok(Charge { nanos: cost, flags })
    }

    /// Returns the hold unused: the call was not made.
    pub fn release(&mut self) -> Result<(), Error> {
        self.unsettled()?;
        self.settled = true;
        check(unsafe { ffi::ab_release(self.run.raw, self.raw) })
    }
}

impl Drop for Hold<'_, '_> {
    fn drop(&mut self) {
        if !self.settled {
            unsafe {
                ffi::ab_release(self.run.raw, self.raw);
            }
        }
    }
}
