/* Built against an INSTALLED agentbudget (pkg-config or find_package) and
 * run against a live daemon. Charges three amounts to a $1.00 run, checks
 * the spend is exact, the denial at the hard limit and its reason, and a
 * price from the daemon's table. Usage: c_program LEDGER RUN_ID */
#include <stdio.h>
#include <string.h>

#include <agentbudget.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "c_program: check failed line %d: %s\n", __LINE__, #cond); \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

int main(int argc, char** argv) {
  ab_ledger* ledger = NULL;
  ab_run* run = NULL;
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  ab_usage usage = AB_USAGE_INIT;
  ab_run_status st;
  int64_t amount = 0, cost = 0;
  uint32_t flags = 0;
  int32_t reason = -1;
  int rc;

  CHECK(argc == 3);
  /* The installed header and the installed library are the same version. */
  CHECK(ab_version_number() == AB_VERSION_NUMBER);
  rc = ab_ledger_open(argv[1], &ledger);
  if (rc != AB_OK) {
    fprintf(stderr, "c_program: open: %s (%s)\n", ab_strerror(rc), ab_last_error_detail());
    return 1;
  }

  /* gpt-4o: $2.50 / $10 per million input / output tokens. */
  usage.input_tokens = 1000;
  usage.output_tokens = 100;
  CHECK(ab_price(ledger, "gpt-4o", &usage, &cost) == AB_OK);
  CHECK(cost == 3500000);

  CHECK(ab_usd_parse("1.00", &opts.hard_nanos) == AB_OK && opts.hard_nanos == 1000000000);
  CHECK(ab_run_begin(ledger, argv[2], &opts, &run) == AB_OK);
  CHECK(ab_run_created(run) == 1);
  CHECK(ab_usd_parse("0.25", &amount) == AB_OK && ab_charge(run, amount, &flags) == AB_OK);
  CHECK(ab_usd_parse("0.35", &amount) == AB_OK && ab_charge(run, amount, &flags) == AB_OK);
  CHECK(!(flags & AB_CHARGE_OVER_HARD));
  CHECK(ab_admit(run, 0, &reason) == AB_OK && reason == AB_REASON_NONE);
  CHECK(ab_usd_parse("0.40", &amount) == AB_OK && ab_charge(run, amount, &flags) == AB_OK);
  CHECK(flags & AB_CHARGE_OVER_HARD);
  CHECK(flags & AB_CHARGE_CROSSED_HARD);
  CHECK(ab_admit(run, 0, &reason) == AB_DENIED && reason == AB_REASON_RUN_HARD);
  CHECK(strcmp(ab_reason_name(reason), "run_hard_limit") == 0);

  st.struct_size = sizeof st;
  CHECK(ab_run_status_get(run, &st) == AB_OK);
  CHECK(st.spent_nanos == 1000000000 && st.calls == 3 && st.hard_nanos == 1000000000);
  printf("c_program %s: spent %lld nanos in %llu calls, then denied: %s; gpt-4o 1000/100 tokens = %lld nanos\n",
         argv[2], (long long)st.spent_nanos, (unsigned long long)st.calls, ab_reason_name(reason), (long long)cost);
  ab_run_detach(run);
  ab_ledger_close(ledger);
  return 0;
}
