/* A C99 program using only agentbudget.h: begins a run with a budget,
 * charges it through priced usage and plain nanos, and checks the results.
 * Exit code 0 = every check passed. Usage: c_abi_program LEDGER */
#include <stdio.h>
#include <string.h>

#include "agentbudget.h"

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "check failed line %d: %s\n", __LINE__, #cond); \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main(int argc, char** argv) {
  ab_ledger* ledger = NULL;
  ab_run* run = NULL;
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  ab_usage usage = AB_USAGE_INIT;
  ab_run_status st;
  int64_t cost = 0;
  uint32_t flags = 0;
  int32_t reason = -1;
  int rc;

  CHECK(argc == 2);
  CHECK(ab_version_number() == AB_VERSION_NUMBER);
  rc = ab_ledger_open(argv[1], &ledger);
  if (rc != AB_OK) {
    fprintf(stderr, "open: %s (%s)\n", ab_strerror(rc), ab_last_error_detail());
    return 1;
  }
  opts.hard_nanos = 80000000; /* $0.08 */
  CHECK(ab_run_begin(ledger, "c-program-run", &opts, &run) == AB_OK);
  CHECK(ab_run_created(run) == 1);

  /* S11: OpenAI shape, prompt 100,000 of which cached 80,000, output 1,000 on
   * a model priced $1.25/$0.125/$10 per 1M: exactly $0.045. */
  usage.shape = AB_USAGE_OPENAI;
  usage.input_tokens = 100000;
  usage.cached_tokens = 80000;
  usage.output_tokens = 1000;
  CHECK(ab_price(ledger, "gpt-5", &usage, &cost) == AB_OK);
  CHECK(cost == 45000000);
  CHECK(ab_charge_usage(run, "openai/gpt-5", &usage, &cost, &flags) == AB_OK);
  CHECK(cost == 45000000);
  CHECK(ab_admit(run, 35000000, &reason) == AB_OK && reason == AB_REASON_NONE);
  CHECK(ab_charge(run, 35000000, &flags) == AB_OK);
  CHECK(flags & AB_CHARGE_OVER_HARD);
  CHECK(ab_admit(run, 0, &reason) == AB_DENIED && reason == AB_REASON_RUN_HARD);
  CHECK(strcmp(ab_reason_name(reason), "run_hard_limit") == 0);

  st.struct_size = sizeof st;
  CHECK(ab_run_status_get(run, &st) == AB_OK);
  CHECK(st.spent_nanos == 80000000 && st.calls == 2 && st.hard_nanos == 80000000);
  CHECK(st.cached_tokens == 80000 && st.input_tokens == 20000 && st.output_tokens == 1000);

  CHECK(ab_charge(run, -1, NULL) == AB_ERR_INVALID_AMOUNT);
  CHECK(ab_charge(NULL, 1, NULL) == AB_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(ab_status_name(AB_ERR_NO_LEDGER), "AB_ERR_NO_LEDGER") == 0);
  CHECK(ab_run_end(run) == AB_OK);
  ab_ledger_close(ledger);
  printf("c_abi_program: all checks passed\n");
  return 0;
}
