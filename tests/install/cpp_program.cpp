// Built against an INSTALLED agentbudget (pkg-config or find_package) and run
// against a live daemon: the C header from C++. Reserves, commits less than
// the estimate, charges the rest of a $0.80 budget and checks the refused
// reservation at the hard limit. Usage: cpp_program LEDGER RUN_ID
#include <agentbudget.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const char* what, int line) {
  if (!ok) {
    std::fprintf(stderr, "cpp_program: check failed line %d: %s\n", line, what);
    ++failures;
  }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

int64_t usd(const char* text) {
  int64_t nanos = -1;
  CHECK(ab_usd_parse(text, &nanos) == AB_OK);
  return nanos;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  CHECK(std::string(ab_version_string()) == std::to_string(AB_VERSION_MAJOR) + "." + std::to_string(AB_VERSION_MINOR) +
                                                "." + std::to_string(AB_VERSION_PATCH));
  ab_ledger* ledger = nullptr;
  int rc = ab_ledger_open(argv[1], &ledger);
  if (rc != AB_OK) {
    std::fprintf(stderr, "cpp_program: open: %s (%s)\n", ab_strerror(rc), ab_last_error_detail());
    return 1;
  }
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  opts.hard_nanos = usd("0.80");
  opts.labels = "agent=install-test";
  ab_run* run = nullptr;
  CHECK(ab_run_begin(ledger, argv[2], &opts, &run) == AB_OK);
  if (!run) return 1;

  ab_hold hold{};
  int32_t reason = -1;
  CHECK(ab_reserve(run, usd("0.50"), 0, &hold, &reason) == AB_OK);
  // With $0.50 held, $0.31 more cannot be reserved: 0.50 + 0.31 > 0.80.
  ab_hold other{};
  CHECK(ab_reserve(run, usd("0.31"), 0, &other, &reason) == AB_DENIED && reason == AB_REASON_RUN_HARD);
  uint32_t flags = 0;
  CHECK(ab_commit(run, hold, usd("0.30"), &flags) == AB_OK);
  CHECK(ab_charge(run, usd("0.50"), &flags) == AB_OK && (flags & AB_CHARGE_OVER_HARD));
  CHECK(ab_reserve(run, 1, 0, &other, &reason) == AB_DENIED);
  CHECK(std::strcmp(ab_reason_name(reason), "run_hard_limit") == 0);

  ab_run_status st{};
  st.struct_size = sizeof st;
  CHECK(ab_run_status_get(run, &st) == AB_OK);
  CHECK(st.spent_nanos == 800000000 && st.held_nanos == 0 && st.calls == 2);
  CHECK(std::string(st.policy) == "default");
  std::printf("cpp_program %s: spent %lld nanos in %llu calls, held %lld, then denied: %s\n", argv[2],
              static_cast<long long>(st.spent_nanos), static_cast<unsigned long long>(st.calls),
              static_cast<long long>(st.held_nanos), ab_reason_name(reason));
  ab_run_detach(run);
  ab_ledger_close(ledger);
  return failures == 0 ? 0 : 1;
}
