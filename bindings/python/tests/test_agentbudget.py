"""Tests of the Python binding against a live agentbudgetd (AGENTBUDGET_LEDGER names a
private ledger; bindings/scripts/run_with_daemon.sh starts it)."""
import itertools
import math
import os
import threading
import types
import unittest
from decimal import Decimal

import agentbudget as ab

_ids = itertools.count()


def rid(tag: str) -> str:
    return f"py-{tag}-{os.getpid()}-{next(_ids)}"


def usd(text: str) -> int:
    return int(Decimal(text) * 1_000_000_000)


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.environ.get("AGENTBUDGET_LEDGER"):
            raise unittest.SkipTest("AGENTBUDGET_LEDGER is not set (run through run_with_daemon.sh)")
        cls.ledger = ab.Ledger()

    @classmethod
    def tearDownClass(cls):
        cls.ledger.close()


class Money(Base):
    def test_exact_cap_trips_exactly(self):
        with self.ledger.run(rid("cap"), budget="0.80") as run:
            r1 = run.charge("0.10")
            self.assertEqual(r1.nanos, 100_000_000)
            self.assertFalse(r1.over_hard)
            r2 = run.charge(Decimal("0.70"))
            self.assertTrue(r2.over_hard)
            self.assertTrue(r2.crossed_hard)
            self.assertEqual(run.status().spent_nanos, 800_000_000)
            self.assertEqual(run.status().spent_usd, Decimal("0.8"))
            self.assertFalse(run.admit())
            with self.assertRaises(ab.BudgetExceeded) as cm:
                run.check()
            self.assertEqual(cm.exception.reason, "run_hard_limit")
            self.assertEqual(cm.exception.reason_code, 1)
            self.assertEqual(cm.exception.name, "AB_DENIED")

    def test_amount_kinds(self):
        with self.ledger.run(rid("kinds")) as run:
            run.charge(0.1)            # float: nearest nano
            run.charge("$2.50")
            run.charge(1)              # int: whole dollars
            run.charge(nanos=7)
            run.charge("1e-3")
            self.assertEqual(run.status().spent_nanos, 100_000_000 + 2_500_000_000 + 1_000_000_000 + 7 + 1_000_000)

    def test_usd_to_nanos(self):
        self.assertEqual(ab.usd_to_nanos("0.000000001"), 1)
        self.assertEqual(ab.usd_to_nanos(Decimal("1E+2")), 100 * 10**9)
        self.assertEqual(ab.nanos_to_usd(54399000), Decimal("0.054399"))
        with self.assertRaises(ab.InvalidAmount):
            ab.usd_to_nanos("0.0000000001")  # finer than a nano
        with self.assertRaises(TypeError):
            ab.usd_to_nanos(True)


class S14BadAmounts(Base):
    """S14: a run at $0.50 is charged -$0.008, NaN, +Inf, 1e30 (and more): all refused, nothing changes."""

    BAD_USD = [-0.008, "-0.008", Decimal("-0.008"), float("nan"), Decimal("NaN"), float("inf"),
               Decimal("Infinity"), "inf", "nan", 1e30, "1e30", Decimal("1e30"), 10**30, -1,
               "garbage", "", "0.1.2", "12abc", "0x10", "1,5", "0.80\x00", "\u0660.5", "1000000.01", 1e6 + 1]
    BAD_NANOS = [-1, 2**63, 2**64 + 5, 10**15 + 1, -(2**63)]

    def test_bad_amounts_change_nothing(self):
        with self.ledger.run(rid("s14"), budget="1.00") as run:
            run.charge("0.50")
            before = run.status()
            self.assertEqual(before.spent_nanos, 500_000_000)
            for bad in self.BAD_USD:
                for op in (run.charge, run.admit, run.reserve, run.check):
                    with self.subTest(bad=bad, op=op.__name__):
                        with self.assertRaises(ab.InvalidAmount) as cm:
                            op(bad)
                        self.assertEqual(cm.exception.name, "AB_ERR_INVALID_AMOUNT")
            for bad in self.BAD_NANOS:
                with self.subTest(nanos=bad):
                    with self.assertRaises(ab.InvalidAmount):
                        run.charge(nanos=bad)
                    with self.assertRaises(ab.InvalidAmount):
                        run.reserve(nanos=bad)
            for bad in (True, None, [1], b"1"):
                with self.subTest(typ=repr(bad)):
                    with self.assertRaises(TypeError):
                        run.charge(bad)
            with self.assertRaises(ab.InvalidUsage):
                run.charge_usage("gpt-4o", {"prompt_tokens": -5, "completion_tokens": 1})
            with self.assertRaises(ab.InvalidUsage):
                run.charge_usage("gpt-4o", {"prompt_tokens": 10, "completion_tokens": float("nan")})
            with self.assertRaises(ab.InvalidUsage):   # cached > prompt: the library refuses it
                run.charge_usage("gpt-4o", {"prompt_tokens": 10, "completion_tokens": 1,
                                            "prompt_tokens_details": {"cached_tokens": 11}})
            with self.assertRaises(ab.InvalidUsage):
                run.charge_usage("gpt-4o", {"prompt_tokens": 2**64, "completion_tokens": 1})
            after = run.status()
            self.assertEqual(after, before)   # every counter, not only spent
            self.assertEqual(after.spent_nanos, 500_000_000)

    def test_bad_limits_refused_before_begin(self):
        for bad in (-1, float("nan"), "garbage", 1e30):
            with self.assertRaises(ab.InvalidAmount):
                self.ledger.run(rid("badlimit"), budget=bad)


class Usage(Base):
    def test_anthropic_dict_reference_charge(self):
        # README's reference: Sonnet 4.5, 3 input, 12,304 5-minute cache writes, 550 output.
        with self.ledger.run(rid("anth")) as run:
            r = run.charge_usage("claude-sonnet-4-5-20250929",
                                 {"input_tokens": 3, "cache_creation_input_tokens": 12304,
                                  "cache_read_input_tokens": 0, "output_tokens": 550})
            self.assertEqual(r.nanos, 54_399_000)
            st = run.status()
            self.assertEqual(st.spent_nanos, 54_399_000)
            self.assertEqual((st.input_tokens, st.cache_write_tokens, st.output_tokens), (3, 12304, 550))

    def test_anthropic_object_with_1h_cache_writes(self):
        # 100 in $3/M + 1000 read $0.30/M + 2000 1h-writes $6/M + 10 out $15/M = $0.01275
        usage = types.SimpleNamespace(
            input_tokens=100, output_tokens=10, cache_read_input_tokens=1000, cache_creation_input_tokens=2000,
            cache_creation=types.SimpleNamespace(ephemeral_5m_input_tokens=0, ephemeral_1h_input_tokens=2000))
        message = types.SimpleNamespace(id="msg_1", model="claude-sonnet-4-5-20250929", usage=usage)
        with self.ledger.run(rid("anth1h")) as run:
            self.assertEqual(run.charge_usage("claude-sonnet-4-5-20250929", message).nanos, 12_750_000)
            # Without the split, all cache writes are 5-minute ones: 2000 at $3.75/M instead of $6/M.
            flat = {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 1000,
                    "cache_creation_input_tokens": 2000}
            self.assertEqual(run.charge_usage("claude-sonnet-4-5-20250929", flat).nanos, 12_750_000 - 4_500_000)

    def test_openai_shapes(self):
        # gpt-4o: 800 uncached at $2.50/M + 200 cached at $1.25/M + 100 output at $10/M = $0.00325
        chat = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
                "prompt_tokens_details": {"cached_tokens": 200},
                "completion_tokens_details": {"reasoning_tokens": 0}}
        obj = types.SimpleNamespace(prompt_tokens=1000, completion_tokens=100,
                                    prompt_tokens_details=types.SimpleNamespace(cached_tokens=200, audio_tokens=None),
                                    completion_tokens_details=None)
        responses_api = {"input_tokens": 1000, "output_tokens": 100,
                         "input_tokens_details": {"cached_tokens": 200},
                         "output_tokens_details": {"reasoning_tokens": 0}}
        litellm_response = types.SimpleNamespace(model="gpt-4o", choices=[], usage=obj)
        with self.ledger.run(rid("oai")) as run:
            for u in (chat, obj, responses_api, litellm_response, {"id": "x", "usage": chat}):
                with self.subTest(u=u):
                    self.assertEqual(run.charge_usage("gpt-4o", u).nanos, 3_250_000)
            self.assertEqual(run.charge_usage("openai/gpt-4o", chat).nanos, 3_250_000)
            self.assertEqual(run.status().spent_nanos, 6 * 3_250_000)
            self.assertEqual(run.status().cached_tokens, 6 * 200)

    def test_openrouter_trace_line_charges_its_billed_cost(self):
        # A real OpenRouter usage block from data/traces (billed cost 0.00611).
        raw = {"prompt_tokens": 2263, "completion_tokens": 132, "total_tokens": 2395, "cost": 0.00611,
               "is_byok": False, "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "video_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 95, "image_tokens": 0}}
        with self.ledger.run(rid("or")) as run:
            self.assertEqual(run.charge_usage("google/gemini-3-pro-preview", raw).nanos, 6_110_000)

    def test_reasoning_outside_completion(self):
        # Reported reasoning above completion: priced apart (both at the output rate here).
        u = {"prompt_tokens": 1000, "completion_tokens": 10, "completion_tokens_details": {"reasoning_tokens": 90}}
        self.assertEqual(self.ledger.price("gemini-3-pro-preview", u), 1000 * 2000 + 100 * 12000)
        self.assertEqual(self.ledger.price("gemini-3-pro-preview", ab.TokenUsage(ab.OPENAI, 1000, 0, 0, 0, 10, 90, True)),
                         1000 * 2000 + 100 * 12000)

    def test_parse_usage_mapping(self):
        t = ab.parse_usage({"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 11,
                            "cache_creation": {"ephemeral_5m_input_tokens": 13, "ephemeral_1h_input_tokens": 17}})
        self.assertEqual(t, ab.TokenUsage(ab.ANTHROPIC, 5, 11, 13, 17, 7, 0, False))
        with self.assertRaises(ab.InvalidUsage):
            ab.parse_usage({"model": "x"})

    def test_unknown_model_is_never_free(self):
        with self.ledger.run(rid("unpriced")) as run:
            r = run.charge_usage("acme-new-1", {"prompt_tokens": 10000, "completion_tokens": 0})
            self.assertTrue(r.unpriced)
            self.assertEqual(r.nanos, 10000 * 15_000)   # the default fallback: $15 per million input


class Reservations(Base):
    def test_commit_on_success_release_on_exception(self):
        with self.ledger.run(rid("hold"), budget="0.30") as run:
            with run.reserve("0.08") as hold:
                self.assertEqual(run.status().held_nanos, 80_000_000)
                hold.commit("0.00027")
            self.assertEqual(run.status().spent_nanos, 270_000)
            with self.assertRaises(RuntimeError):
                with run.reserve("0.08"):
                    raise RuntimeError("the call failed")
            st = run.status()
            self.assertEqual((st.spent_nanos, st.held_nanos, st.calls, st.in_flight), (270_000, 0, 1, 0))
            with run.reserve("0.08"):
                pass                                  # not settled: the estimate is committed
            self.assertEqual(run.status().spent_nanos, 80_270_000)
            with self.assertRaises(ab.BudgetExceeded) as cm:
                run.reserve("0.25")                   # 0.08027 + 0.25 > 0.30
            self.assertEqual(cm.exception.reason, "run_hard_limit")
            self.assertEqual(run.status().held_nanos, 0)

    def test_reserve_estimate_from_model(self):
        with self.ledger.run(rid("est")) as run:
            est = run.estimate("gpt-4o", 1000, 100)
            self.assertEqual(est, 1000 * 2500 + 100 * 10000)
            with run.reserve(model="gpt-4o", prompt_tokens=1000, max_output_tokens=100) as hold:
                self.assertEqual(hold.estimate_nanos, est)
                r = hold.commit_usage("gpt-4o", {"prompt_tokens": 1000, "completion_tokens": 50})
            self.assertEqual(r.nanos, 1000 * 2500 + 50 * 10000)
            self.assertEqual(run.status().overshoot_nanos, 0)
            with self.assertRaises(ab.InvalidArgument):
                hold.release()                        # settled once

    def test_guard_decorator(self):
        calls = []
        with self.ledger.run(rid("guard"), budget="0.0030") as run:
            @run.guard("gpt-4o", max_output_tokens=100, prompt_tokens=lambda prompt: len(prompt))
            def ask(prompt):
                calls.append(prompt)
                return {"id": "r", "usage": {"prompt_tokens": len(prompt), "completion_tokens": 20}}

            ask("x" * 100)                            # estimate 100*2500 + 100*10000 = $0.00125
            self.assertEqual(run.status().spent_nanos, 100 * 2500 + 20 * 10000)
            ask("x" * 100)
            with self.assertRaises(ab.BudgetExceeded):
                ask("x" * 1000)                       # 0.0009 spent + 0.0035 estimate > 0.0030
            self.assertEqual(len(calls), 2)           # the denied call was not made

            @ab.budgeted(run, "gpt-4o", estimate="0.0001")
            def broken():
                raise ValueError("provider error")

            with self.assertRaises(ValueError):
                broken()
            st = run.status()
            self.assertEqual((st.spent_nanos, st.held_nanos, st.calls), (2 * 450_000, 0, 2))


class Lifetime(Base):
    def test_context_manager_ends_created_run(self):
        run_id = rid("end")
        with self.ledger.run(run_id) as run:
            self.assertTrue(run.created)
            with self.ledger.run(run_id) as other:     # attached: detached on exit
                self.assertFalse(other.created)
                other.charge("0.01")
            run.charge("0.01")
            self.assertEqual(run.status().spent_nanos, 20_000_000)
        with self.assertRaises(ab.RunClosed) as cm:
            self.ledger.run(run_id)
        self.assertEqual(cm.exception.name, "AB_ERR_RUN_CLOSED")

    def test_exception_detaches(self):
        run_id = rid("detach")
        with self.assertRaises(KeyError):
            with self.ledger.run(run_id, budget="1") as run:
                run.charge("0.25")
                raise KeyError("agent crashed")
        with self.ledger.run(run_id) as again:        # the retry sees the same spend
            self.assertFalse(again.created)
            self.assertEqual(again.status().spent_nanos, 250_000_000)
            again.end()

    def test_errors_carry_names(self):
        with self.assertRaises(ab.InvalidRunId) as cm:
            self.ledger.run("has space")
        self.assertEqual(cm.exception.name, "AB_ERR_INVALID_RUN_ID")
        with self.assertRaises(ab.InvalidLabels):
            self.ledger.run(rid("labels"), labels="no-equals-sign")
        run = self.ledger.run(rid("x"))
        run.detach()
        with self.assertRaises(ab.AgentBudgetError):
            run.charge("0.01")

    def test_fail_open_and_closed(self):
        absent = os.environ["AGENTBUDGET_LEDGER"] + "-absent"
        with self.assertRaises(ab.NoLedger) as cm:
            ab.Ledger(absent)
        self.assertEqual(cm.exception.name, "AB_ERR_NO_LEDGER")
        with ab.Ledger(absent, fail_open=True) as l:
            self.assertFalse(l.available)
            with l.run("task-1", budget="0.01") as run:
                self.assertTrue(run.admit("5"))
                self.assertEqual(run.charge("5").nanos, 5 * 10**9)
                with run.reserve("1") as h:
                    h.commit("0.5")
                self.assertIsNone(run.status())
            with self.assertRaises(ab.InvalidAmount):  # bad amounts are refused even so
                run.charge(float("nan"))

    def test_loop_guard_fingerprint(self):
        with self.ledger.run(rid("loop"), loop_limit=3) as run:
            self.assertTrue(run.admit(fingerprint="sed -i s/a/b/ f"))
            self.assertTrue(run.admit(fingerprint="sed -i s/a/b/ f"))
            with self.assertRaises(ab.BudgetExceeded) as cm:
                run.check(fingerprint="sed -i s/a/b/ f")
            self.assertEqual(cm.exception.reason, "loop_detected")
            self.assertTrue(run.status().looped)


class Threads(Base):
    def test_concurrent_charges_are_exact(self):
        with self.ledger.run(rid("threads")) as run:
            def work():
                for _ in range(2000):
                    run.charge(nanos=3)
            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            st = run.status()
            self.assertEqual((st.spent_nanos, st.calls), (4 * 2000 * 3, 8000))

    def test_end_while_other_threads_charge(self):
        run = self.ledger.run(rid("race"))
        errors = []
        stop = threading.Event()

        def work():
            while not stop.is_set():
                try:
                    run.charge(nanos=1)
                except ab.AgentBudgetError as e:      # after end: a clean error, never a crash
                    errors.append(e.name)
                    return
        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts:
            t.start()
        run.end()
        stop.set()
        for t in ts:
            t.join()
        self.assertTrue(all(e == "AB_ERR_INVALID_ARGUMENT" for e in errors))


if __name__ == "__main__":
    unittest.main()
