// The C ABI over libcore. Every entry point validates its arguments, maps
// libcore's Status to the pinned AB_* codes and never throws.
#include "agentbudget.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "clock.h"
#include "config_seqlock.h"
#include "holds.h"
#include "ledger.h"
#include "levels.h"
#include "money.h"
#include "pool_period.h"
#include "run_ops.h"

struct ab_ledger {
  std::unique_ptr<ab::Ledger> core;
};

struct ab_run {
  ab::Ledger* ledger;
  ab::RunRef ref;
};

// The numbers in agentbudget.h are pinned; libcore must agree.
#define AB_PIN(c, s) static_assert((c) == int(ab::Status::s))
AB_PIN(AB_OK, kOk);
AB_PIN(AB_DENIED, kDenied);
AB_PIN(AB_ERR_INVALID_ARGUMENT, kInvalidArgument);
AB_PIN(AB_ERR_INVALID_RUN_ID, kInvalidRunId);
AB_PIN(AB_ERR_INVALID_AMOUNT, kInvalidAmount);
AB_PIN(AB_ERR_NO_LEDGER, kNoLedger);
AB_PIN(AB_ERR_PERMISSION, kPermission);
AB_PIN(AB_ERR_INCOMPATIBLE, kIncompatible);
AB_PIN(AB_ERR_CORRUPT, kCorrupt);
AB_PIN(AB_ERR_NOT_READY, kNotReady);
AB_PIN(AB_ERR_TABLE_FULL, kTableFull);
AB_PIN(AB_ERR_BUSY, kBusy);
AB_PIN(AB_ERR_STALE_HANDLE, kStaleHandle);
AB_PIN(AB_ERR_RUN_CLOSED, kRunClosed);
AB_PIN(AB_ERR_UNKNOWN_MODEL, kUnknownModel);
AB_PIN(AB_ERR_INVALID_USAGE, kInvalidUsage);
AB_PIN(AB_ERR_OVERFLOW, kOverflow);
AB_PIN(AB_ERR_INVALID_LABELS, kInvalidLabels);
AB_PIN(AB_ERR_SYSTEM, kSystem);
AB_PIN(AB_ERR_NOT_FOUND, kNotFound);
static_assert(AB_REASON_UNPRICED == int(ab::Reason::kUnpriced));
static_assert(AB_REASON_PARENT == int(ab::Reason::kParent));
static_assert(AB_REASON_LOOP == int(ab::Reason::kLoop));
static_assert(AB_RUN_ACTIVE == int(ab::SlotState::kActive));
static_assert(AB_RUN_CLOSED == int(ab::SlotState::kClosed));
static_assert(AB_CHARGE_OVER_SOFT == ab::kChargeOverSoft && AB_CHARGE_OVER_HARD == ab::kChargeOverHard);
static_assert(AB_CHARGE_CROSSED_SOFT == ab::kChargeCrossedSoft && AB_CHARGE_CROSSED_HARD == ab::kChargeCrossedHard);
static_assert(AB_CHARGE_UNPRICED == ab::kChargeUnpriced);
static_assert(AB_CHARGE_HOLD_EXPIRED == ab::kChargeHoldExpired);
static_assert(AB_REASON_CALLS == int(ab::Reason::kCalls) && AB_REASON_CONCURRENCY == int(ab::Reason::kConcurrency));
static_assert(AB_REASON_TOKENS == int(ab::Reason::kTokens) && AB_REASON_DURATION == int(ab::Reason::kDuration));
static_assert(AB_RUN_ID_MAX == ab::kRunIdMax);

namespace {

// Sizes of the structs in version 0.1 (before they grew): the smallest a
// caller may pass.
constexpr uint32_t kBeginOptionsV01 = offsetof(ab_begin_options, max_calls);
constexpr uint32_t kRunStatusV01 = offsetof(ab_run_status, held_nanos);
static_assert(kBeginOptionsV01 == 32 && kRunStatusV01 == 200);

thread_local char t_detail[256];

void set_detail(const std::string& s) { std::snprintf(t_detail, sizeof t_detail, "%s", s.c_str()); }

int code(ab::Status s) { return int(s); }

// Converts the caller's ab_usage into normalised counts.
int to_usage(const ab_usage* in, ab::Usage* out) {
  if (!in || in->struct_size < sizeof(ab_usage)) return AB_ERR_INVALID_ARGUMENT;
  if (in->shape > AB_USAGE_ANTHROPIC || (in->flags & ~AB_USAGE_REASONING_SEPARATE) != 0 || in->reserved != 0)
    return AB_ERR_INVALID_ARGUMENT;
  ab::ReportedUsage r;
  r.shape = in->shape == AB_USAGE_ANTHROPIC ? ab::UsageShape::kAnthropic : ab::UsageShape::kOpenAI;
  r.input = in->input_tokens;
  r.cached = in->cached_tokens;
  r.cache_write_5m = in->cache_write_5m_tokens;
  r.cache_write_1h = in->cache_write_1h_tokens;
  r.output = in->output_tokens;
  r.reasoning = in->reasoning_tokens;
  r.reasoning_separate = (in->flags & AB_USAGE_REASONING_SEPARATE) != 0;
  return ab::normalise(r, out) == ab::UsageError::kNone ? AB_OK : AB_ERR_INVALID_USAGE;
}

bool valid_model_name(const char* model) { return model && *model && std::strlen(model) <= 4 * ab::kModelNameMax; }

}  // namespace

extern "C" {

uint32_t ab_version_number(void) { return AB_VERSION_NUMBER; }

const char* ab_version_string(void) {
#define AB_STR2(x) #x
#define AB_STR(x) AB_STR2(x)
  return AB_STR(AB_VERSION_MAJOR) "." AB_STR(AB_VERSION_MINOR) "." AB_STR(AB_VERSION_PATCH);
}

const char* ab_strerror(int status) { return ab::status_message(ab::Status(status)); }
const char* ab_status_name(int status) { return ab::status_name(ab::Status(status)); }
const char* ab_reason_name(int reason) { return ab::reason_name(ab::Reason(reason)); }
const char* ab_last_error_detail(void) { return t_detail; }

int ab_ledger_open(const char* name, ab_ledger** out) {
  if (!out || (name && !*name)) return AB_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  t_detail[0] = '\0';
  try {
    std::string msg;
    auto l = std::make_unique<ab_ledger>();
    ab::Status s = ab::Ledger::open(ab::resolve_ledger_name(name ? name : ""), true, &l->core, &msg);
    if (s != ab::Status::kOk) {
      set_detail(msg);
      return code(s);
    }
    *out = l.release();
    return AB_OK;
  } catch (const std::exception& e) {
    set_detail(e.what());
    return AB_ERR_SYSTEM;
  }
}

void ab_ledger_close(ab_ledger* ledger) { delete ledger; }

int ab_run_begin(ab_ledger* ledger, const char* run_id, const ab_begin_options* opts, ab_run** out) {
  if (!ledger || !run_id || !out) return AB_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  ab::BeginOptions o;
  if (opts) {
    // Structs grow at the end: a caller built against an older header passes
    // a smaller struct_size, and the fields it does not have keep defaults.
    if (opts->struct_size < kBeginOptionsV01 || opts->flags != 0) return AB_ERR_INVALID_ARGUMENT;
    ab_begin_options full = AB_BEGIN_OPTIONS_INIT;
    std::memcpy(&full, opts, std::min<size_t>(opts->struct_size, sizeof full));
    opts = &full;
    // AB_NO_LIMIT asks for no cap of the run's own, like any negative value.
    if ((opts->hard_nanos > ab::kNoLimit / 2 && opts->hard_nanos != AB_NO_LIMIT) ||
        (opts->soft_nanos > ab::kNoLimit / 2 && opts->soft_nanos != AB_NO_LIMIT))
      return AB_ERR_INVALID_AMOUNT;
    o.max_calls = opts->max_calls;
    o.max_in_flight = opts->max_in_flight;
    o.loop_limit = opts->loop_limit;
    o.max_duration_s = opts->max_duration_s;
    o.max_tokens = opts->max_tokens;
    if (o.loop_limit == 1) return AB_ERR_INVALID_ARGUMENT;  // every call would be its own loop
    o.hard_nanos = opts->hard_nanos < 0 || opts->hard_nanos == AB_NO_LIMIT ? -1 : opts->hard_nanos;
    o.soft_nanos = opts->soft_nanos < 0 || opts->soft_nanos == AB_NO_LIMIT ? -1 : opts->soft_nanos;
    if (opts->labels) o.labels = opts->labels;
    if (opts->parent) {
      size_t plen = strnlen(opts->parent, ab::kRunIdMax + 1);
      if (plen == 0 || plen > ab::kRunIdMax) return AB_ERR_INVALID_ARGUMENT;
      o.parent = std::string_view(opts->parent, plen);
    }
  }
  size_t len = strnlen(run_id, ab::kRunIdMax + 1);
  if (len > ab::kRunIdMax) return AB_ERR_INVALID_RUN_ID;
  auto* r = new (std::nothrow) ab_run{ledger->core.get(), {}};
  if (!r) return AB_ERR_SYSTEM;
  ab::Status s = ledger->core->begin(std::string_view(run_id, len), o, &r->ref);
  if (s != ab::Status::kOk) {
    t_detail[0] = '\0';
    if (s == ab::Status::kInvalidLabels)
      set_detail("labels must be key=value[,key=value...], and policy=NAME must name a configured policy");
    if (s == ab::Status::kTableFull)
      set_detail("all " + std::to_string(ledger->core->capacity()) +
                 " run slots are in use; ended runs are recycled by agentbudgetd after their grace period");
    delete r;
    return code(s);
  }
  *out = r;
  return AB_OK;
}

int ab_run_created(const ab_run* run) { return run && run->ref.created ? 1 : 0; }

int ab_run_end(ab_run* run) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  ab::Status s = ab::end(*run->ledger, run->ref);
  delete run;
  return code(s);
}

void ab_run_detach(ab_run* run) { delete run; }

int ab_charge(ab_run* run, int64_t nanos, uint32_t* flags_out) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  ab::ChargeResult r;
  ab::Status s = ab::charge(*run->ledger, run->ref, nanos, nullptr, &r);
  if (flags_out) *flags_out = s == ab::Status::kOk ? r.flags : 0;
  return code(s);
}

int ab_charge_usage(ab_run* run, const char* model, const ab_usage* usage, int64_t* cost_out, uint32_t* flags_out) {
  if (!run || !valid_model_name(model)) return AB_ERR_INVALID_ARGUMENT;
  ab::Usage u;
  if (int rc = to_usage(usage, &u); rc != AB_OK) return rc;
  ab::ChargeResult r;
  ab::Status s = ab::charge_usage(*run->ledger, run->ref, model, u, &r);
  bool ok = s == ab::Status::kOk;
  if (cost_out) *cost_out = ok ? r.charged : 0;
  if (flags_out) *flags_out = ok ? r.flags : 0;
  return code(s);
}

int ab_price(ab_ledger* ledger, const char* model, const ab_usage* usage, int64_t* cost_out) {
  if (!ledger || !valid_model_name(model) || !cost_out) return AB_ERR_INVALID_ARGUMENT;
  ab::Usage u;
  if (int rc = to_usage(usage, &u); rc != AB_OK) return rc;
  ab::ModelPrice price;
  ab::Status s = ledger->core->find_price(model, &price);
  if (s != ab::Status::kOk) return code(s);
  return ab::price_call(price, u, cost_out) ? AB_OK : AB_ERR_INVALID_USAGE;
}

int ab_admit(ab_run* run, int64_t estimate_nanos, int32_t* reason_out) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  ab::Decision d;
  ab::Status s = ab::admit(*run->ledger, run->ref, estimate_nanos, &d);
  if (reason_out) *reason_out = (s == ab::Status::kOk || s == ab::Status::kDenied) ? int32_t(d.reason) : 0;
  return code(s);
}

int ab_admit_fp(ab_run* run, int64_t estimate_nanos, uint64_t fingerprint, int32_t* reason_out) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  ab::Decision d;
  ab::Status s = ab::admit_fp(*run->ledger, run->ref, estimate_nanos, fingerprint, &d);
  if (reason_out) *reason_out = (s == ab::Status::kOk || s == ab::Status::kDenied) ? int32_t(d.reason) : 0;
  return code(s);
}

int ab_reserve(ab_run* run, int64_t estimate_nanos, uint64_t fingerprint, ab_hold* hold_out, int32_t* reason_out) {
  if (!run || !hold_out) return AB_ERR_INVALID_ARGUMENT;
  ab::HoldRef h;
  ab::Decision d;
  ab::Status s = ab::reserve(*run->ledger, run->ref, estimate_nanos, fingerprint, &h, &d);
  if (reason_out) *reason_out = (s == ab::Status::kOk || s == ab::Status::kDenied) ? int32_t(d.reason) : 0;
  if (s == ab::Status::kOk) *hold_out = ab_hold{h.index, h.generation};
  return code(s);
}

int ab_commit(ab_run* run, ab_hold hold, int64_t actual_nanos, uint32_t* flags_out) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  ab::ChargeResult r;
  ab::Status s =
      ab::commit(*run->ledger, run->ref, ab::HoldRef{hold.index, hold.generation}, actual_nanos, nullptr, &r);
  if (flags_out) *flags_out = s == ab::Status::kOk ? r.flags : 0;
  return code(s);
}

int ab_commit_usage(ab_run* run, ab_hold hold, const char* model, const ab_usage* usage, int64_t* cost_out,
                    uint32_t* flags_out) {
  if (!run || !valid_model_name(model)) return AB_ERR_INVALID_ARGUMENT;
  ab::Usage u;
  if (int rc = to_usage(usage, &u); rc != AB_OK) return rc;
  ab::ChargeResult r;
  ab::Status s = ab::commit_usage(*run->ledger, run->ref, ab::HoldRef{hold.index, hold.generation}, model, u, &r);
  bool ok = s == ab::Status::kOk;
  if (cost_out) *cost_out = ok ? r.charged : 0;
  if (flags_out) *flags_out = ok ? r.flags : 0;
  return code(s);
}

int ab_release(ab_run* run, ab_hold hold) {
  if (!run) return AB_ERR_INVALID_ARGUMENT;
  return code(ab::release(*run->ledger, run->ref, ab::HoldRef{hold.index, hold.generation}));
}

int ab_estimate(ab_ledger* ledger, const char* model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                int64_t* estimate_out) {
  if (!ledger || !valid_model_name(model) || !estimate_out) return AB_ERR_INVALID_ARGUMENT;
  return code(ab::estimate_call(*ledger->core, model, prompt_tokens, max_output_tokens, estimate_out));
}

int ab_estimate_for_run(ab_run* run, const char* model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                        int64_t* estimate_out) {
  if (!run || !valid_model_name(model) || !estimate_out) return AB_ERR_INVALID_ARGUMENT;
  return code(ab::estimate_for_run(*run->ledger, run->ref, model, prompt_tokens, max_output_tokens, estimate_out));
}

int ab_run_status_get(ab_run* run, ab_run_status* out) {
  if (!run || !out || out->struct_size < kRunStatusV01) return AB_ERR_INVALID_ARGUMENT;
  ab::RunStatus st;
  ab::Status s = ab::status(*run->ledger, run->ref, &st);
  if (s != ab::Status::kOk) return code(s);
  // Fill a full struct, then copy as much as the caller's version has.
  uint32_t size = std::min<uint32_t>(out->struct_size, sizeof(ab_run_status));
  ab_run_status full;
  std::memset(&full, 0, sizeof full);
  ab_run_status* caller = out;
  out = &full;
  out->struct_size = size;
  out->state = uint32_t(st.state);
  out->spent_nanos = st.spent;
  out->hard_nanos = st.hard;
  for (int k = 0; k < 4; ++k) out->soft_nanos[k] = st.soft[k];
  out->calls = st.calls;
  out->input_tokens = st.input_tokens;
  out->cached_tokens = st.cached_tokens;
  out->cache_write_tokens = st.cache_write_tokens;
  out->output_tokens = st.output_tokens;
  out->reasoning_tokens = st.reasoning_tokens;
  out->begun_unix_ns = st.begun_unix_ns;
  out->first_charge_unix_ns = st.first_charge_unix_ns;
  out->last_charge_unix_ns = st.last_charge_unix_ns;
  out->closed_unix_ns = st.closed_unix_ns;
  out->held_nanos = st.held;
  out->overshoot_nanos = st.overshoot;
  out->in_flight = st.in_flight;
  out->looped = (st.flags & ab::kRunLooped) ? 1 : 0;
  out->child_spent_nanos = st.child_spent;
  out->last_denial = int32_t(st.last_denial & 0xFFFF);
  uint32_t denied_pool = st.last_denial >> 16;
  if (denied_pool > 0 && denied_pool <= run->ledger->pool_count()) {
    const ab::PoolDef& d = run->ledger->pool_defs()[denied_pool - 1];
    std::memcpy(out->last_denial_pool, d.name, strnlen(d.name, sizeof out->last_denial_pool - 1));
  }
  if (const ab::Policy* p = run->ledger->policy_of(*run->ref.slot))
    std::memcpy(out->policy, p->name, strnlen(p->name, sizeof out->policy - 1));
  std::memcpy(caller, &full, size);
  return AB_OK;
}

int ab_pool_status_get(ab_ledger* ledger, const char* name, ab_pool_status* out) {
  if (!ledger || !name || !out || out->struct_size < sizeof(ab_pool_status)) return AB_ERR_INVALID_ARGUMENT;
  const ab::Ledger& l = *ledger->core;
  int found = -1;
  ab::Status s = ab::read_config(*l.config(), [&] {
    for (uint32_t i = 0; i < l.pool_count(); ++i)
      if (strncmp(l.pool_defs()[i].name, name, sizeof l.pool_defs()[i].name) == 0) found = int(i);
  });
  if (s != ab::Status::kOk) return code(s);
  if (found < 0) return AB_ERR_NOT_FOUND;
  const ab::PoolDef& d = l.pool_defs()[found];
  ab::PoolSlot& p = l.pools()[found];
  uint64_t period = 0;
  int64_t reset = INT64_MAX;
  s = ab::read_config(*l.config(), [&] {
    period = ab::period_of(d, int64_t(ab::coarse_unix_ns() / 1'000'000'000u));
    reset = ab::next_reset(d, period);
  });
  if (s != ab::Status::kOk) return code(s);
  uint32_t size = out->struct_size;
  std::memset(out, 0, sizeof *out);
  out->struct_size = size;
  out->spent_nanos = ab::period_spent(p, period);
  out->held_nanos = p.held.load(std::memory_order_relaxed);
  out->hard_nanos = ab::pool_hard(d);
  out->previous_spent_nanos = p.previous_spent.load(std::memory_order_relaxed);
  out->period = period;
  out->next_reset_unix_s = reset;
  return AB_OK;
}

int ab_usd_parse(const char* text, int64_t* nanos_out) {
  if (!text || !nanos_out) return AB_ERR_INVALID_ARGUMENT;
  auto v = ab::parse_usd(text);
  if (!v || *v > ab::kMaxAmountNanos) return AB_ERR_INVALID_AMOUNT;
  *nanos_out = *v;
  return AB_OK;
}

int ab_usd_from_double(double usd, int64_t* nanos_out) {
  if (!nanos_out) return AB_ERR_INVALID_ARGUMENT;
  if (!std::isfinite(usd) || usd < 0 || usd > 1e6) return AB_ERR_INVALID_AMOUNT;
  *nanos_out = int64_t(std::llround(usd * 1e9));
  return AB_OK;
}

}  // extern "C"
