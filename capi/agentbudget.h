/*
 * agentbudget.h -- run-level cost budgets for AI agents, C ABI.
 *
 * A *run* is one agent task (a run id) from its first LLM call to its
 * result, possibly spread over several processes on one host. agentbudgetd
 * owns a shared-memory ledger of runs; this library maps it and admits and
 * charges runs with a few atomic instructions: no IPC round trip, no lock,
 * no syscall, no allocation on the hot path (ab_charge, ab_charge_usage,
 * ab_admit, ab_run_status_get).
 *
 * Money is integer nano-USD everywhere: 1 USD = 1,000,000,000 nanos.
 *
 * ABI policy: functions and structs of the same major version
 * (AB_VERSION_MAJOR) stay binary compatible; structs passed by pointer
 * begin with `struct_size` so that they can grow at the end. Every status
 * code below is pinned and will keep its value. Only symbols prefixed
 * `ab_` are exported.
 *
 * Return values: every function that can fail returns an `int` status:
 * AB_OK (0) on success, AB_DENIED (1) for an admission a limit refused,
 * a negative AB_ERR_* on error. ab_strerror() describes any code. An
 * error never changes the ledger.
 *
 * Caveats
 *  - Threads: an ab_ledger and ab_run handles may be used from any number
 *    of threads at once, except that ab_ledger_close, ab_run_end and
 *    ab_run_detach must not race with other uses of the same handle.
 *  - fork(): the mappings are MAP_SHARED and survive fork, so a child may
 *    keep using handles it inherited; charges from parent and child add up
 *    exactly. Calling ab_ledger_close in both is fine.
 *  - Daemon down: open runs keep charging and admitting against the limits
 *    in the ledger, and new runs can begin under the existing policies;
 *    events wait in the ledger until the daemon returns. Holds of processes
 *    that die meanwhile stay reserved until it returns (it releases them on
 *    its first pass). With no ledger at
 *    all (the daemon never started) ab_ledger_open fails with
 *    AB_ERR_NO_LEDGER, and the caller chooses to fail open or closed.
 *  - Crashes: a process may be killed at any instruction; no accepted
 *    charge is lost and no other process blocks on it.
 *  - Run ids are 1..127 bytes of printable ASCII (0x21-0x7E).
 */
#ifndef AGENTBUDGET_H
#define AGENTBUDGET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(AB_STATIC)
#define AB_API __attribute__((visibility("default")))
#else
#define AB_API
#endif

/* ---- Version --------------------------------------------------------- */
#define AB_VERSION_MAJOR 0
#define AB_VERSION_MINOR 2
#define AB_VERSION_PATCH 0
#define AB_VERSION_NUMBER (AB_VERSION_MAJOR * 10000 + AB_VERSION_MINOR * 100 + AB_VERSION_PATCH)
#define AB_NANOS_PER_USD INT64_C(1000000000)
#define AB_NO_LIMIT INT64_MAX /* a hard limit that never binds */
#define AB_RUN_ID_MAX 127     /* bytes, excluding the NUL */

/** Runtime version, AB_VERSION_NUMBER of the library actually loaded. */
AB_API uint32_t ab_version_number(void);
/** Runtime version as "MAJOR.MINOR.PATCH". Static storage. */
AB_API const char* ab_version_string(void);

/* ---- Status codes (pinned) ------------------------------------------- */
#define AB_OK 0
#define AB_DENIED 1                  /* admission refused by a limit */
#define AB_ERR_INVALID_ARGUMENT (-1) /* NULL pointer, bad struct_size or flag */
#define AB_ERR_INVALID_RUN_ID (-2)   /* empty, > 127 bytes, or non-printable */
#define AB_ERR_INVALID_AMOUNT (-3)   /* negative, NaN, infinite or > $1,000,000 */
#define AB_ERR_NO_LEDGER (-4)        /* no ledger: the daemon never started */
#define AB_ERR_PERMISSION (-5)       /* not in the ledger's group */
#define AB_ERR_INCOMPATIBLE (-6)     /* ledger of another layout version */
#define AB_ERR_CORRUPT (-7)          /* ledger failed validation */
#define AB_ERR_NOT_READY (-8)        /* ledger still being initialised */
#define AB_ERR_TABLE_FULL (-9)       /* no free run slot */
#define AB_ERR_BUSY (-10)            /* a live process holds what is needed; retry */
#define AB_ERR_STALE_HANDLE (-11)    /* the run's slot was recycled */
#define AB_ERR_RUN_CLOSED (-12)      /* the run has ended */
#define AB_ERR_UNKNOWN_MODEL (-13)   /* model not priced and the policy denies */
#define AB_ERR_INVALID_USAGE (-14)   /* inconsistent or overflowing token counts */
#define AB_ERR_OVERFLOW (-15)        /* a counter would overflow */
#define AB_ERR_INVALID_LABELS (-16)  /* labels are not key=value[,key=value] */
#define AB_ERR_SYSTEM (-17)          /* operating-system error; see ab_last_error_detail */
#define AB_ERR_NOT_FOUND (-18)       /* no run with this id */

/** Human-readable description of a status code. Never NULL; static storage. */
AB_API const char* ab_strerror(int status);
/** The code's macro name ("AB_ERR_NO_LEDGER"). Never NULL; static storage. */
AB_API const char* ab_status_name(int status);
/** Detail of the calling thread's last failed ab_ledger_open or ab_run_begin
 *  (e.g. which check a segment failed). Thread-local; "" if none. */
AB_API const char* ab_last_error_detail(void);

/* ---- Denial reasons (pinned) ----------------------------------------- */
#define AB_REASON_NONE 0
#define AB_REASON_RUN_HARD 1    /* the run's hard limit */
#define AB_REASON_POOL 2        /* a pool's hard limit (see last_denial_pool) */
#define AB_REASON_CALLS 3       /* maximum calls */
#define AB_REASON_TOKENS 4      /* maximum tokens */
#define AB_REASON_DURATION 5    /* maximum wall-clock duration */
#define AB_REASON_CONCURRENCY 6 /* maximum calls in flight */
#define AB_REASON_LOOP 7        /* repeated identical calls */
#define AB_REASON_CLOSED 8      /* the run has ended */
#define AB_REASON_UNPRICED 9    /* an unpriced call under a deny policy */
#define AB_REASON_PARENT 10     /* an ancestor run's hard limit (sub-agents) */

/** Short name of a denial reason ("run_hard_limit"). Never NULL. */
AB_API const char* ab_reason_name(int reason);

/* ---- Ledger ---------------------------------------------------------- */
typedef struct ab_ledger ab_ledger;

/**
 * Maps the ledger NAME (NULL: $AGENTBUDGET_LEDGER, else "agentbudget").
 * Never creates it. Thread-safe.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (out NULL or bad name);
 *   AB_ERR_NO_LEDGER; AB_ERR_PERMISSION; AB_ERR_INCOMPATIBLE;
 *   AB_ERR_CORRUPT; AB_ERR_NOT_READY; AB_ERR_SYSTEM.
 */
AB_API int ab_ledger_open(const char* name, ab_ledger** out);

/** Unmaps the ledger. Every ab_run from it must be ended or detached first.
 *  NULL is ignored. */
AB_API void ab_ledger_close(ab_ledger* ledger);

/* ---- Runs ------------------------------------------------------------ */
typedef struct ab_run ab_run;

typedef struct ab_begin_options {
  uint32_t struct_size; /* sizeof(ab_begin_options) */
  uint32_t flags;       /* 0 */
  int64_t hard_nanos;   /* < 0: the policy's limit; else the run's cap, which
                           can only LOWER the policy's limit */
  int64_t soft_nanos;   /* < 0: none; else an extra soft threshold */
  const char* labels;   /* NULL or "agent=x,team=y,task=z"; "policy=NAME"
                           names a policy directly. Selects the policy. */
  /* Other limits of this run; 0 = the policy's. Each can only lower the
     policy's. Set by the process that creates the run; ignored on attach. */
  uint32_t max_calls;      /* calls admitted (reservations or charges) */
  uint32_t max_in_flight;  /* holds outstanding at once */
  uint32_t loop_limit;     /* deny the call that makes N identical fingerprints in a row */
  uint32_t max_duration_s; /* seconds since the run began */
  uint64_t max_tokens;     /* tokens of every kind */
  const char* parent;      /* NULL, or the id of an active run this one is a
                              sub-agent of: its charges roll up into the
                              parent, whose limits and pools bind it too. A
                              run has at most 3 ancestors. Set by the
                              creator; ignored on attach. Ending a parent
                              does not end its children: its limit still
                              binds them. */
} ab_begin_options;

#define AB_BEGIN_OPTIONS_INIT \
  { sizeof(ab_begin_options), 0, -1, -1, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Begins the run RUN_ID, or attaches to it if any process already began it:
 * every process that begins the same id gets the same run. A hard_nanos
 * lower than the run's current cap lowers it (never raises). Not on the hot
 * path: it may wait (bounded) for another process that is creating a slot.
 * @param opts NULL for defaults.
 * @param out receives a handle to free with ab_run_end or ab_run_detach.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (also: parent invalid, equal to the
 *   run id, nested more than 3 deep, or pools of run and ancestors more than
 *   4); AB_ERR_INVALID_RUN_ID; AB_ERR_INVALID_AMOUNT; AB_ERR_INVALID_LABELS;
 *   AB_ERR_RUN_CLOSED (the id, or its parent, was ended); AB_ERR_NOT_FOUND
 *   (no such parent); AB_ERR_TABLE_FULL; AB_ERR_BUSY; AB_ERR_CORRUPT.
 */
AB_API int ab_run_begin(ab_ledger* ledger, const char* run_id, const ab_begin_options* opts, ab_run** out);

/** 1 if the ab_run_begin that returned RUN created the run, 0 if it attached. */
AB_API int ab_run_created(const ab_run* run);

/**
 * Ends the run for every process (later admissions: AB_REASON_CLOSED; later
 * charges: AB_ERR_RUN_CLOSED) and frees the handle, which is invalid after
 * the call whatever it returns.
 * @return AB_OK (also if already ended); AB_ERR_INVALID_ARGUMENT;
 *   AB_ERR_STALE_HANDLE.
 */
AB_API int ab_run_end(ab_run* run);

/** Frees the handle without ending the run (other processes go on). */
AB_API void ab_run_detach(ab_run* run);

/* ---- Charging (hot path) --------------------------------------------- */
#define AB_CHARGE_OVER_SOFT 0x1u     /* spent >= a soft threshold */
#define AB_CHARGE_OVER_HARD 0x2u     /* spent >= the hard limit: admissions now deny */
#define AB_CHARGE_CROSSED_SOFT 0x4u  /* this charge crossed a soft threshold */
#define AB_CHARGE_CROSSED_HARD 0x8u  /* this charge reached the hard limit */
#define AB_CHARGE_UNPRICED 0x10u     /* priced at the policy's fallback rate */
#define AB_CHARGE_HOLD_EXPIRED 0x20u /* ab_commit after the hold was reclaimed: recorded as a charge */

/**
 * Records NANOS already spent by one call. Always recorded, even past the
 * hard limit; the flags say where the run now stands. The one charge that
 * crosses a threshold marks an event for the daemon. Lock-free, thread-safe.
 * @param flags_out NULL or receives AB_CHARGE_* bits.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT; AB_ERR_INVALID_AMOUNT (nanos < 0
 *   or > $1,000,000); AB_ERR_RUN_CLOSED; AB_ERR_STALE_HANDLE; AB_ERR_OVERFLOW.
 */
AB_API int ab_charge(ab_run* run, int64_t nanos, uint32_t* flags_out);

#define AB_USAGE_OPENAI 0u               /* prompt INCLUDES cached tokens (OpenAI, Gemini, OpenRouter) */
#define AB_USAGE_ANTHROPIC 1u            /* input EXCLUDES cache reads and writes */
#define AB_USAGE_REASONING_SEPARATE 0x1u /* reasoning NOT included in output_tokens */

typedef struct ab_usage {
  uint32_t struct_size;           /* sizeof(ab_usage) */
  uint32_t shape;                 /* AB_USAGE_OPENAI or AB_USAGE_ANTHROPIC */
  uint64_t input_tokens;          /* prompt_tokens / input_tokens as reported */
  uint64_t cached_tokens;         /* cached_tokens / cache_read_input_tokens */
  uint64_t cache_write_5m_tokens; /* cache_creation_input_tokens (5 min TTL) */
  uint64_t cache_write_1h_tokens; /* ephemeral_1h_input_tokens */
  uint64_t output_tokens;         /* completion_tokens / output_tokens */
  uint64_t reasoning_tokens;      /* reasoning tokens, if reported */
  uint32_t flags;                 /* AB_USAGE_REASONING_SEPARATE */
  uint32_t reserved;              /* 0 */
} ab_usage;

#define AB_USAGE_INIT \
  { sizeof(ab_usage), AB_USAGE_OPENAI, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Prices USAGE of MODEL with the daemon's price table (provider prefixes
 * such as "openai/" or "openrouter/google/" are resolved) and charges it, as
 * ab_charge. An unknown model is never free: by the run's policy it is
 * refused (AB_ERR_UNKNOWN_MODEL, nothing recorded, later admissions denied
 * with AB_REASON_UNPRICED) or charged at the fallback rate
 * (AB_CHARGE_UNPRICED); either way one unpriced_model event is raised.
 * @param cost_out NULL or receives the nanos recorded.
 * @return as ab_charge, plus AB_ERR_UNKNOWN_MODEL, AB_ERR_INVALID_USAGE,
 *   AB_ERR_BUSY (the daemon is rewriting the price table; retry).
 */
AB_API int ab_charge_usage(ab_run* run, const char* model, const ab_usage* usage, int64_t* cost_out,
                           uint32_t* flags_out);

/**
 * Prices USAGE of MODEL without charging anything.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT; AB_ERR_UNKNOWN_MODEL;
 *   AB_ERR_INVALID_USAGE; AB_ERR_BUSY.
 */
AB_API int ab_price(ab_ledger* ledger, const char* model, const ab_usage* usage, int64_t* cost_out);

/**
 * Admission check before a call: may a call costing up to ESTIMATE_NANOS go
 * ahead? With estimate 0, "is any budget left" (spent < hard); otherwise
 * spent + estimate <= hard. It reserves nothing. Lock-free, thread-safe.
 * @param reason_out NULL or receives an AB_REASON_* (AB_REASON_NONE if allowed).
 * @return AB_OK (allowed); AB_DENIED; AB_ERR_INVALID_ARGUMENT;
 *   AB_ERR_INVALID_AMOUNT; AB_ERR_STALE_HANDLE.
 */
AB_API int ab_admit(ab_run* run, int64_t estimate_nanos, int32_t* reason_out);

/**
 * Like ab_admit, and also the loop guard: FINGERPRINT (a hash of the call's
 * action or request; 0 = none) is recorded as the run's latest call, and the
 * call that makes loop_limit identical fingerprints in a row is denied with
 * AB_REASON_LOOP (the N-th, not the N+1-th). Lock-free, thread-safe.
 * @return as ab_admit.
 */
AB_API int ab_admit_fp(ab_run* run, int64_t estimate_nanos, uint64_t fingerprint, int32_t* reason_out);

/* ---- Reservations (hot path) ----------------------------------------- */

/** A granted reservation. Plain data: copy it freely; it names one hold
 *  slot and its generation, so a reclaimed hold is detected. */
typedef struct ab_hold {
  uint32_t index;
  uint32_t generation;
} ab_hold;

/**
 * Reserves ESTIMATE_NANOS (the call's worst-case cost) before a call. Granted
 * only if spent + held + estimate <= hard, so concurrent calls from any
 * number of processes can never push the run past its hard limit. Also
 * admits the call: closed, duration, tokens, unpriced, the loop guard
 * (FINGERPRINT, 0 = none), max calls (a granted hold counts one call) and max
 * calls in flight. Settle the hold with ab_commit or ab_release. If the
 * process dies holding it, agentbudgetd releases it within about a second
 * (the call stays counted); holds older than the policy's lease are
 * reclaimed too. Lock-free, thread-safe.
 * @param hold_out receives the hold when granted.
 * @param reason_out NULL or receives the AB_REASON_* of a denial.
 * @return AB_OK (granted); AB_DENIED; AB_ERR_INVALID_ARGUMENT;
 *   AB_ERR_INVALID_AMOUNT; AB_ERR_STALE_HANDLE; AB_ERR_TABLE_FULL (no free
 *   hold slot).
 */
AB_API int ab_reserve(ab_run* run, int64_t estimate_nanos, uint64_t fingerprint, ab_hold* hold_out,
                      int32_t* reason_out);

/**
 * Settles HOLD with what the call actually cost. ACTUAL may exceed the
 * estimate: the excess is recorded (it is money spent) and added to the
 * run's overshoot. If the daemon released the hold because its lease ran
 * out, ACTUAL is still recorded and AB_CHARGE_HOLD_EXPIRED is set. A hold
 * settles once: committing or releasing it again, or a hold that is not
 * this run's, records nothing. Flags as ab_charge.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT; AB_ERR_INVALID_AMOUNT;
 *   AB_ERR_RUN_CLOSED; AB_ERR_STALE_HANDLE (already settled, or not a hold
 *   of this run).
 */
AB_API int ab_commit(ab_run* run, ab_hold hold, int64_t actual_nanos, uint32_t* flags_out);

/**
 * ab_commit with the cost priced from USAGE of MODEL (as ab_charge_usage).
 * An unknown model under a deny policy releases the hold and returns
 * AB_ERR_UNKNOWN_MODEL.
 * @return as ab_commit and ab_charge_usage.
 */
AB_API int ab_commit_usage(ab_run* run, ab_hold hold, const char* model, const ab_usage* usage, int64_t* cost_out,
                           uint32_t* flags_out);

/**
 * Returns HOLD unused: the call was not made, so it is not counted. A hold
 * the daemon already released for its lease is acknowledged (AB_OK; the
 * call stays counted, as the daemon could not know it was not made).
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT; AB_ERR_STALE_HANDLE (already
 *   settled, released for a dead owner, or not a hold of this run).
 */
AB_API int ab_release(ab_run* run, ab_hold hold);

/**
 * Worst-case cost of one call of MODEL with PROMPT_TOKENS of prompt and up to
 * MAX_OUTPUT_TOKENS of output (0: the model's maximum output from the price
 * table), all at the highest applicable rates (no cache discount; the long-
 * context tier the prompt selects; the dearer of output and reasoning).
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT; AB_ERR_UNKNOWN_MODEL;
 *   AB_ERR_INVALID_USAGE (no output bound known, or overflow); AB_ERR_BUSY.
 */
AB_API int ab_estimate(ab_ledger* ledger, const char* model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                       int64_t* estimate_out);

/**
 * ab_estimate for RUN: a model missing from the price table is estimated at
 * the run's policy's fallback rates (with 65,536 output tokens if
 * MAX_OUTPUT_TOKENS is 0), or refused with AB_ERR_UNKNOWN_MODEL under a
 * deny policy.
 * @return as ab_estimate, plus AB_ERR_STALE_HANDLE.
 */
AB_API int ab_estimate_for_run(ab_run* run, const char* model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                               int64_t* estimate_out);

#define AB_RUN_ACTIVE 2
#define AB_RUN_CLOSED 3

typedef struct ab_run_status {
  uint32_t struct_size; /* set by the caller: sizeof(ab_run_status) */
  uint32_t state;       /* AB_RUN_ACTIVE or AB_RUN_CLOSED */
  int64_t spent_nanos;
  int64_t hard_nanos;    /* effective hard limit; AB_NO_LIMIT if none */
  int64_t soft_nanos[4]; /* soft thresholds; AB_NO_LIMIT = unused */
  uint64_t calls;
  uint64_t input_tokens; /* uncached prompt tokens */
  uint64_t cached_tokens;
  uint64_t cache_write_tokens;
  uint64_t output_tokens; /* excluding reasoning */
  uint64_t reasoning_tokens;
  uint64_t begun_unix_ns;
  uint64_t first_charge_unix_ns; /* 0 if never charged */
  uint64_t last_charge_unix_ns;
  uint64_t closed_unix_ns;   /* 0 while active */
  char policy[64];           /* name of the run's policy, NUL-terminated */
  int64_t held_nanos;        /* reserved by outstanding holds */
  int64_t overshoot_nanos;   /* commits' excess over their estimates */
  uint32_t in_flight;        /* holds outstanding */
  uint32_t looped;           /* 1 once the loop guard has denied a call */
  int64_t child_spent_nanos; /* spent by this run's sub-agent runs */
  int32_t last_denial;       /* AB_REASON_* of the latest denial, 0 if none */
  uint32_t reserved;
  char last_denial_pool[64]; /* for AB_REASON_POOL: the pool's name */
} ab_run_status;

typedef struct ab_pool_status {
  uint32_t struct_size; /* set by the caller: sizeof(ab_pool_status) */
  uint32_t reserved;
  int64_t spent_nanos;          /* in the current period */
  int64_t held_nanos;           /* reserved by outstanding holds of member runs */
  int64_t hard_nanos;           /* AB_NO_LIMIT if none */
  int64_t previous_spent_nanos; /* in the period before, once one has ended */
  uint64_t period;              /* the current period's number */
  int64_t next_reset_unix_s;    /* start of the next period; INT64_MAX if none */
} ab_pool_status;

/**
 * Reads pool NAME's counters for the current period (as of now).
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (NULL, struct_size too small);
 *   AB_ERR_NOT_FOUND (no such pool); AB_ERR_BUSY.
 */
AB_API int ab_pool_status_get(ab_ledger* ledger, const char* name, ab_pool_status* out);

/**
 * Reads the run's counters (each exact; together a near-instant snapshot).
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (NULL or struct_size too small);
 *   AB_ERR_STALE_HANDLE.
 */
AB_API int ab_run_status_get(ab_run* run, ab_run_status* out);

/* ---- Money helpers --------------------------------------------------- */

/**
 * Parses a decimal USD amount ("0.80", "$2.50", "1e-3") into nanos, exactly.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (NULL); AB_ERR_INVALID_AMOUNT
 *   (negative, malformed, finer than a nano, or too large).
 */
AB_API int ab_usd_parse(const char* text, int64_t* nanos_out);

/**
 * Converts a double USD amount to nanos (rounded to the nearest nano), for
 * bindings whose callers hold floats.
 * @return AB_OK; AB_ERR_INVALID_ARGUMENT (NULL); AB_ERR_INVALID_AMOUNT (NaN,
 *   infinite, negative or above $1,000,000).
 */
AB_API int ab_usd_from_double(double usd, int64_t* nanos_out);

#ifdef __cplusplus
}
#endif
#endif /* AGENTBUDGET_H */
