// The ledger's layout, opening and validation, and begin/attach semantics.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

#include "layout.h"
#include "ledger.h"
#include "ledger_owner.h"
#include "run_id.h"
#include "run_ops.h"
#include "test_ledger.h"

using namespace abtest;

TEST(Layout, SharedStructsArePinned) {
  EXPECT_EQ(sizeof(ab::RunSlot), 448u);
  EXPECT_EQ(offsetof(ab::RunSlot, child_spent), 384u);
  EXPECT_EQ(sizeof(ab::PoolSlot), 128u);
  EXPECT_EQ(offsetof(ab::PoolSlot, period_tag), 64u);
  EXPECT_EQ(alignof(ab::RunSlot), 64u);
  EXPECT_EQ(offsetof(ab::RunSlot, word), 0u);
  EXPECT_EQ(offsetof(ab::RunSlot, id), 64u);
  EXPECT_EQ(offsetof(ab::RunSlot, soft_nanos), 192u);
  // Every counter a charge writes shares one cache line of its own.
  EXPECT_EQ(offsetof(ab::RunSlot, spent), 256u);
  EXPECT_EQ(offsetof(ab::RunSlot, reasoning_tokens), 256u + 7 * 8);
  EXPECT_EQ(sizeof(ab::DataHeader), 256u);
  EXPECT_EQ(offsetof(ab::DataHeader, ready) % 64, 0u);
  EXPECT_EQ(sizeof(ab::ModelPrice), 384u);
  EXPECT_TRUE(std::atomic<int64_t>::is_always_lock_free);
  EXPECT_TRUE(std::atomic<uint64_t>::is_always_lock_free);
  EXPECT_TRUE(std::atomic<uint32_t>::is_always_lock_free);
  EXPECT_NE(ab::kLayoutFingerprint, 0u);
  EXPECT_EQ(ab::data_segment_size(65536, 1024), 256u + 65536u * 448u + 1024u * 64u + 64u * 128u + 4096u * 8u);
  EXPECT_EQ(sizeof(ab::HoldSlot), 64u);
  EXPECT_EQ(offsetof(ab::RunSlot, held), 320u);
}

TEST(Layout, WordPackingRoundTrips) {
  uint64_t w = ab::pack_word(ab::SlotState::kClaiming, 0xABCDEF, 4000000);
  EXPECT_EQ(ab::word_state(w), ab::SlotState::kClaiming);
  EXPECT_EQ(ab::word_generation(w), 0xABCDEFu);
  EXPECT_EQ(ab::word_pid(w), 4000000u);
}

TEST(Ledger, OpenWithoutDaemonIsASpecificError) {
  ab_ledger* l = nullptr;
  EXPECT_EQ(ab_ledger_open("abtest-never-created", &l), AB_ERR_NO_LEDGER);
  EXPECT_EQ(l, nullptr);
  EXPECT_NE(std::string(ab_last_error_detail()), "");
}

TEST(Ledger, SegmentsHaveTheirModesWhateverTheUmask) {
  mode_t old = umask(0077);
  TestLedger t;
  umask(old);
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + t.name() + ".v1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat(("/dev/shm/" + t.name() + ".v1.config").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(Ledger, ConfigSegmentIsMappedReadOnlyByClients) {
  TestLedger t;
  std::unique_ptr<ab::Ledger> l;
  std::string msg;
  ASSERT_EQ(ab::Ledger::open(t.name(), true, &l, &msg), ab::Status::kOk);
  EXPECT_FALSE(l->config_segment().writable());
  // A write through the client's mapping must fault, not raise a limit.
  EXPECT_DEATH(
      {
        auto* p = const_cast<ab::Policy*>(&l->policies()[0]);
        p->hard_nanos.store(1, std::memory_order_relaxed);
      },
      "");
}

// Damages one header field of a live ledger and checks that opening refuses.
static ab::Status open_after(const std::function<void(ab::DataHeader*)>& damage) {
  TestLedger t;
  damage(t.daemon().ledger().header());
  std::unique_ptr<ab::Ledger> l;
  std::string msg;
  return ab::Ledger::open(t.name(), true, &l, &msg);
}

TEST(Ledger, ValidationRefusesDamagedHeaders) {
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->magic ^= 1; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->layout_major = 99; }), ab::Status::kIncompatible);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->fingerprint ^= 4; }), ab::Status::kIncompatible);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->run_capacity = 1000; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->run_capacity = 1u << 30; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->runs_offset = 12; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->holds_offset += 64; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->hold_capacity = 0; }), ab::Status::kCorrupt);
  EXPECT_EQ(open_after([](ab::DataHeader* h) { h->ready.store(0); }), ab::Status::kNotReady);
}

TEST(Ledger, BeginTwiceAttachesToTheSameRun) {
  TestLedger t;
  ab_ledger* a = t.open();
  ab_ledger* b = t.open();
  ab_run *r1 = nullptr, *r2 = nullptr;
  ASSERT_EQ(ab_run_begin(a, "task-42", nullptr, &r1), AB_OK);
  ASSERT_EQ(ab_run_begin(b, "task-42", nullptr, &r2), AB_OK);
  EXPECT_EQ(ab_run_created(r1), 1);
  EXPECT_EQ(ab_run_created(r2), 0);
  ASSERT_EQ(ab_charge(r1, 5, nullptr), AB_OK);
  ASSERT_EQ(ab_charge(r2, 7, nullptr), AB_OK);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r1, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, 12);
  EXPECT_EQ(st.calls, 2u);
  EXPECT_STREQ(st.policy, "default");
  ab_run_detach(r1);
  ab_run_detach(r2);
  ab_ledger_close(a);
  ab_ledger_close(b);
}

TEST(Ledger, RequestedBudgetOnlyLowers) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.policies[0].hard = usd("5.00");
  TestLedger t(cfg);
  ab_ledger* l = t.open();
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.hard_nanos = usd("50.00");  // above the policy: cannot raise it
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "run-a", &o, &r), AB_OK);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.hard_nanos, usd("5.00"));
  // A second begin with a lower cap lowers it for everyone; a higher one does nothing.
  ab_run* r2 = nullptr;
  o.hard_nanos = usd("2.00");
  ASSERT_EQ(ab_run_begin(l, "run-a", &o, &r2), AB_OK);
  o.hard_nanos = usd("3.00");
  ab_run* r3 = nullptr;
  ASSERT_EQ(ab_run_begin(l, "run-a", &o, &r3), AB_OK);
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.hard_nanos, usd("2.00"));
  // Soft thresholds follow the policy's 50% / 80% of the effective hard limit.
  EXPECT_EQ(st.soft_nanos[0], usd("1.00"));
  EXPECT_EQ(st.soft_nanos[1], usd("1.60"));
  EXPECT_EQ(st.soft_nanos[2], AB_NO_LIMIT);
  ab_run_detach(r);
  ab_run_detach(r2);
  ab_run_detach(r3);
  ab_ledger_close(l);
}

TEST(Ledger, LabelsSelectThePolicy) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  ab::PolicyConfig research;
  research.name = "research";
  research.hard = usd("3.00");
  research.matches = {{"agent", "researcher"}};
  ab::PolicyConfig support;
  support.name = "support-triage";
  support.hard = usd("0.50");
  support.matches = {{"team", "support"}, {"task", "triage"}};
  cfg.policies.push_back(research);
  cfg.policies.push_back(support);
  TestLedger t(cfg);
  ab_ledger* l = t.open();
  auto policy_of = [&](const char* id, const char* labels) {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = labels;
    ab_run* r = nullptr;
    EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK);
    ab_run_status st;
    st.struct_size = sizeof st;
    EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
    ab_run_detach(r);
    return std::string(st.policy) + "/" + std::to_string(st.hard_nanos);
  };
  EXPECT_EQ(policy_of("r1", "agent=researcher,team=x"), "research/3000000000");
  EXPECT_EQ(policy_of("r2", "team=support,task=triage"), "support-triage/500000000");
  EXPECT_EQ(policy_of("r3", "team=support,task=billing"), "default/" + std::to_string(AB_NO_LIMIT));
  EXPECT_EQ(policy_of("r4", "policy=research"), "research/3000000000");
  EXPECT_EQ(policy_of("r5", nullptr), "default/" + std::to_string(AB_NO_LIMIT));
  ab_run* r = nullptr;
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  for (const char* bad : {"agent", "=x", "agent=", "a=b,,c=d", "a=b,a=c", "a=b,", "Agent=x", "a=has space"}) {
    o.labels = bad;
    EXPECT_EQ(ab_run_begin(l, "r6", &o, &r), AB_ERR_INVALID_LABELS) << bad;
  }
  ab_ledger_close(l);
}

TEST(Ledger, EndedRunDeniesAndRefusesCharges) {
  TestLedger t;
  ab_ledger* l = t.open();
  ab_run *r = nullptr, *other = nullptr;
  ASSERT_EQ(ab_run_begin(l, "ending", nullptr, &r), AB_OK);
  ASSERT_EQ(ab_run_begin(l, "ending", nullptr, &other), AB_OK);
  ASSERT_EQ(ab_charge(r, 100, nullptr), AB_OK);
  ASSERT_EQ(ab_run_end(r), AB_OK);
  int32_t reason = 0;
  EXPECT_EQ(ab_admit(other, 0, &reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_CLOSED);
  EXPECT_EQ(ab_charge(other, 1, nullptr), AB_ERR_RUN_CLOSED);
  ab_run* again = nullptr;
  EXPECT_EQ(ab_run_begin(l, "ending", nullptr, &again), AB_ERR_RUN_CLOSED);
  ab_run_detach(other);
  ab_ledger_close(l);
}

TEST(Ledger, RecycledSlotIsDetectedNotCharged) {
  TestLedger t;
  ab_ledger* l = t.open();
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "recycled", nullptr, &r), AB_OK);
  // Simulate the daemon recycling the slot: same index, next generation.
  ab::Ledger& core = t.daemon().ledger();
  ab::RunRef ref;
  ASSERT_EQ(core.find("recycled", &ref), ab::Status::kOk);
  ref.slot->word.store(ab::pack_word(ab::SlotState::kActive, ref.generation + 1, 1));
  int64_t before = ref.slot->spent.load();
  EXPECT_EQ(ab_charge(r, 5, nullptr), AB_ERR_STALE_HANDLE);
  EXPECT_EQ(ab_admit(r, 0, nullptr), AB_ERR_STALE_HANDLE);
  EXPECT_EQ(ref.slot->spent.load(), before);
  ab_run_detach(r);
  ab_ledger_close(l);
}

TEST(Ledger, FullTableIsAnError) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.run_capacity = 16;
  TestLedger t(cfg);
  ab_ledger* l = t.open();
  std::vector<ab_run*> runs;
  for (int i = 0; i < 16; ++i) {
    ab_run* r = nullptr;
    ASSERT_EQ(ab_run_begin(l, ("full-" + std::to_string(i)).c_str(), nullptr, &r), AB_OK);
    runs.push_back(r);
  }
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, "one-too-many", nullptr, &r), AB_ERR_TABLE_FULL);
  // Existing runs are still found in a full table.
  EXPECT_EQ(ab_run_begin(l, "full-7", nullptr, &r), AB_OK);
  EXPECT_EQ(ab_run_created(r), 0);
  ab_run_detach(r);
  for (auto* x : runs) ab_run_detach(x);
  ab_ledger_close(l);
}

// Structs grow at the end: a program built against the 0.1 header (smaller
// ab_begin_options and ab_run_status) keeps working, and nothing is written
// past the struct it passed.
TEST(Ledger, CallersOfTheOlderHeaderStillWork) {
  TestLedger t;
  ab_ledger* l = t.open();
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.struct_size = 32;  // 0.1: up to and including `labels`
  o.hard_nanos = usd("1.00");
  o.max_calls = 1;  // not part of a 0.1 struct: must be ignored
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "old-caller", &o, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, 5, nullptr), AB_OK);
  ASSERT_EQ(ab_charge(r, 5, nullptr), AB_OK);  // a second call: max_calls was not taken
  unsigned char buf[sizeof(ab_run_status) + 16];
  std::memset(buf, 0xAB, sizeof buf);
  auto* st = reinterpret_cast<ab_run_status*>(buf);
  st->struct_size = 200;  // 0.1's size
  ASSERT_EQ(ab_run_status_get(r, st), AB_OK);
  EXPECT_EQ(st->spent_nanos, 10);
  EXPECT_EQ(st->hard_nanos, usd("1.00"));
  EXPECT_STREQ(st->policy, "default");
  for (size_t i = 200; i < sizeof buf; ++i) ASSERT_EQ(buf[i], 0xAB) << "wrote past the caller's struct at " << i;
  st->struct_size = 199;
  EXPECT_EQ(ab_run_status_get(r, st), AB_ERR_INVALID_ARGUMENT);
  ab_run_detach(r);
  ab_ledger_close(l);
}

TEST(Ledger, MostSpecificPolicyWinsAndUnknownNamesAreErrors) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  ab::PolicyConfig agent;
  agent.name = "agent-x";
  agent.matches = {{"agent", "x"}};
  ab::PolicyConfig agent_team;
  agent_team.name = "agent-x-team-t";
  agent_team.matches = {{"agent", "x"}, {"team", "t"}};
  cfg.policies.push_back(agent);
  cfg.policies.push_back(agent_team);
  TestLedger t(cfg);
  ab_ledger* l = t.open();
  auto policy = [&](const char* id, const char* labels) {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = labels;
    ab_run* r = nullptr;
    int rc = ab_run_begin(l, id, &o, &r);
    if (rc != AB_OK) return std::string(ab_status_name(rc));
    ab_run_status st;
    st.struct_size = sizeof st;
    ab_run_status_get(r, &st);
    ab_run_detach(r);
    return std::string(st.policy);
  };
  EXPECT_EQ(policy("p1", "agent=x,team=t"), "agent-x-team-t");  // two matches beat one
  EXPECT_EQ(policy("p2", "agent=x,team=u"), "agent-x");
  EXPECT_EQ(policy("p3", "agent=y"), "default");
  EXPECT_EQ(policy("p4", "policy=agent-x"), "agent-x");
  EXPECT_EQ(policy("p5", "policy=nope"), "AB_ERR_INVALID_LABELS");  // a typo is not "default"
  ab_ledger_close(l);
}
