//! Tests of the Rust binding against a live agentbudgetd: AGENTBUDGET_LEDGER names a
//! private ledger (bindings/scripts/run_with_daemon.sh starts it).
use agentbudget::{ffi, usd, usd_f64, Error, Ledger, Reason, RunOptions, Shape, Usage};
use std::sync::atomic::{AtomicUsize, Ordering};

static N: AtomicUsize = AtomicUsize::new(0);

fn rid(tag: &str) -> String {
    format!("rs-{}-{}-{}", tag, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn ledger() -> Ledger {
    assert!(std::env::var("AGENTBUDGET_LEDGER").is_ok(), "run through run_with_daemon.sh");
    Ledger::open(None).expect("open the test ledger")
}

#[test]
fn exact_cap_trips_exactly() {
    let l = ledger();
    let run = l.run(&rid("cap"), &RunOptions::new().hard(usd("0.80").unwrap())).unwrap();
    assert!(run.created());
    let a = run.charge_usd("0.10").unwrap();
    assert_eq!(a.nanos, 100_000_000);
    assert!(!a.over_hard());
    let b = run.charge(usd("0.70").unwrap()).unwrap();
    assert!(b.over_hard() && b.crossed_hard());
    assert_eq!(run.status().unwrap().spent_nanos, 800_000_000);
    let e = run.admit(0).unwrap_err();
    assert_eq!(e, Error::Denied { reason: Reason::RunHardLimit, pool: None });
    assert_eq!(e.name(), "AB_DENIED");
    assert_eq!(e.reason().unwrap().name(), "run_hard_limit");
    assert_eq!(run.status().unwrap().last_denial, Some(Reason::RunHardLimit));
    run.end().unwrap();
}

#[test]
fn money_conversions() {
    assert_eq!(usd("$2.50").unwrap(), 2_500_000_000);
    assert_eq!(usd("1e-3").unwrap(), 1_000_000);
    assert_eq!(usd("0.000000001").unwrap(), 1);
    assert_eq!(usd_f64(0.1).unwrap(), 100_000_000);
    assert_eq!(usd("0.0000000001").unwrap_err().code(), ffi::AB_ERR_INVALID_AMOUNT);
}

/// S14: a run at $0.50 is charged -$0.008, NaN, +Inf, 1e30 (and more): all refused, nothing changed.
#[test]
fn s14_bad_amounts_change_nothing() {
    let l = ledger();
    let run = l.run(&rid("s14"), &RunOptions::new().hard(usd("1.00").unwrap())).unwrap();
    run.charge_usd("0.50").unwrap();
    let before = run.status().unwrap();
    assert_eq!(before.spent_nanos, 500_000_000);

    for bad in [-0.008, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30, 1e6 + 1.0, -0.0 - 1e-12] {
        let e = usd_f64(bad).unwrap_err();
        assert_eq!(e.name(), "AB_ERR_INVALID_AMOUNT", "{}", bad);
    }
    for bad in ["-0.008", "NaN", "nan", "inf", "Infinity", "1e30", "garbage", "", "0.1.2", "12abc", "0x10", "1,5", "1000000.01", "0.80\0"] {
        let e = run.charge_usd(bad).unwrap_err();
        assert_eq!(e.name(), "AB_ERR_INVALID_AMOUNT", "{:?}", bad);
    }
    for bad in [-1i64, -8_000_000, i64::MIN, 1_000_000 * 1_000_000_000 + 1, i64::MAX] {
        assert_eq!(run.charge(bad).unwrap_err().name(), "AB_ERR_INVALID_AMOUNT", "{}", bad);
        assert_eq!(run.admit(bad).unwrap_err().name(), "AB_ERR_INVALID_AMOUNT", "{}", bad);
        assert_eq!(run.reserve(bad, 0).err().unwrap().name(), "AB_ERR_INVALID_AMOUNT", "{}", bad);
    }
    let mut cached_over_prompt = Usage::openai(10, 11, 1, 0);
    assert_eq!(run.charge_usage("gpt-4o", &cached_over_prompt).unwrap_err().name(), "AB_ERR_INVALID_USAGE");
    cached_over_prompt = Usage::openai(u64::MAX, 0, u64::MAX, 0);
    assert_eq!(run.charge_usage("gpt-4o", &cached_over_prompt).unwrap_err().name(), "AB_ERR_INVALID_USAGE");
    // A commit refused for its amount leaves the hold to be committed properly.
    let mut hold = run.reserve(usd("0.01").unwrap(), 0).unwrap();
    assert_eq!(hold.commit(-1).unwrap_err().name(), "AB_ERR_INVALID_AMOUNT");
    hold.release().unwrap();
    drop(hold);
    let after = run.status().unwrap();
    assert_eq!(after.spent_nanos, 500_000_000);
    assert_eq!(after.calls, before.calls);
    assert_eq!(after.held_nanos, 0);
    assert_eq!(
        (after.input_tokens, after.output_tokens, after.overshoot_nanos, after.last_charge_unix_ns),
        (before.input_tokens, before.output_tokens, before.overshoot_nanos, before.last_charge_unix_ns)
    );
    // Negative limits are refused too, before the run is begun.
    assert_eq!(l.run(&rid("neg"), &RunOptions::new().hard(-1)).err().unwrap().name(), "AB_ERR_INVALID_AMOUNT");
    run.end().unwrap();
}

#[test]
fn usage_reference_charges() {
    let l = ledger();
    let run = l.run(&rid("usage"), &RunOptions::new()).unwrap();
    // README's reference: Sonnet 4.5, 3 input, 12,304 5-minute writes, 550 output.
    let c = run.charge_usage("claude-sonnet-4-5-20250929", &Usage::anthropic(3, 0, 12304, 0, 550)).unwrap();
    assert_eq!(c.nanos, 54_399_000);
    // 100 in + 1000 read + 2000 1-hour writes + 10 out = $0.01275
    assert_eq!(run.charge_usage("claude-sonnet-4-5-20250929", &Usage::anthropic(100, 1000, 0, 2000, 10)).unwrap().nanos, 12_750_000);
    // gpt-4o: 800 uncached + 200 cached + 100 output = $0.00325; provider prefixes resolve.
    assert_eq!(run.charge_usage("gpt-4o", &Usage::openai(1000, 200, 100, 0)).unwrap().nanos, 3_250_000);
    assert_eq!(run.charge_usage("openai/gpt-4o", &Usage::openai(1000, 200, 100, 0)).unwrap().nanos, 3_250_000);
    // A real OpenRouter call of the bundled traces, billed $0.00611.
    assert_eq!(run.charge_usage("google/gemini-3-pro-preview", &Usage::openai(2263, 0, 132, 95)).unwrap().nanos, 6_110_000);
    // Reasoning reported above completion is priced apart.
    let sep = Usage::openai(1000, 0, 10, 90);
    assert!(sep.reasoning_separate);
    assert_eq!(l.price("gemini-3-pro-preview", &sep).unwrap(), 1000 * 2000 + 100 * 12000);
    assert_eq!(Usage::anthropic(1, 2, 3, 4, 5).shape, Shape::Anthropic);
    let unpriced = run.charge_usage("acme-new-1", &Usage::openai(10000, 0, 0, 0)).unwrap();
    assert!(unpriced.unpriced());
    assert_eq!(unpriced.nanos, 10000 * 15_000);
    let st = run.status().unwrap();
    assert_eq!(st.spent_nanos, 54_399_000 + 12_750_000 + 2 * 3_250_000 + 6_110_000 + 150_000_000);
    assert_eq!(st.cache_write_tokens, 12304 + 2000);
    run.end().unwrap();
}

#[test]
fn holds_commit_release_and_drop() {
    let l = ledger();
    let run = l.run(&rid("hold"), &RunOptions::new().hard(usd("0.30").unwrap())).unwrap();
    let mut h = run.reserve(usd("0.08").unwrap(), 0).unwrap();
    assert_eq!(run.status().unwrap().held_nanos, 80_000_000);
    h.commit(usd("0.00027").unwrap()).unwrap();
    assert_eq!(h.commit(1).unwrap_err().name(), "AB_ERR_INVALID_ARGUMENT"); // settled once
    drop(h);
    {
        let _dropped = run.reserve(usd("0.08").unwrap(), 0).unwrap(); // an early return: released
    }
    let st = run.status().unwrap();
    assert_eq!((st.spent_nanos, st.held_nanos, st.calls, st.in_flight), (270_000, 0, 1, 0));
    let est = run.estimate("gpt-4o", 1000, 100).unwrap();
    assert_eq!(est, 1000 * 2500 + 100 * 10000);
    let mut h = run.reserve(est, 0).unwrap();
    assert_eq!(h.commit_usage("gpt-4o", &Usage::openai(1000, 0, 50, 0)).unwrap().nanos, 1000 * 2500 + 50 * 10000);
    drop(h);
    let e = run.reserve(usd("0.30").unwrap(), 0).err().unwrap();
    assert_eq!(e.reason(), Some(Reason::RunHardLimit));
    assert_eq!(run.status().unwrap().held_nanos, 0);
    run.end().unwrap();
}

#[test]
fn lifetime_and_errors() {
    let l = ledger();
    let id = rid("life");
    let a = l.run(&id, &RunOptions::new()).unwrap();
    let b = l.run(&id, &RunOptions::new()).unwrap();
    assert!(a.created() && !b.created());
    b.charge(5).unwrap();
    b.detach();
    assert_eq!(a.status().unwrap().spent_nanos, 5);
    a.end().unwrap();
    assert_eq!(l.run(&id, &RunOptions::new()).err().unwrap().name(), "AB_ERR_RUN_CLOSED");
    assert_eq!(l.run("has space", &RunOptions::new()).err().unwrap().name(), "AB_ERR_INVALID_RUN_ID");
    assert_eq!(l.run(&rid("lab"), &RunOptions::new().labels("nolabel")).err().unwrap().name(), "AB_ERR_INVALID_LABELS");
    let loopy = l.run(&rid("loop"), &RunOptions::new().loop_limit(3)).unwrap();
    loopy.admit_fp(0, 42).unwrap();
    loopy.admit_fp(0, 42).unwrap();
    assert_eq!(loopy.admit_fp(0, 42).unwrap_err().reason(), Some(Reason::Loop));
    loopy.end().unwrap();
}

#[test]
fn no_ledger_fail_open_or_closed() {
    let absent = format!("{}-absent", std::env::var("AGENTBUDGET_LEDGER").unwrap());
    let e = Ledger::open(Some(&absent)).err().unwrap();
    assert!(e.is_no_ledger());
    assert_eq!(e.name(), "AB_ERR_NO_LEDGER");
    assert!(Ledger::open_or_none(Some(&absent)).unwrap().is_none());
    assert!(Ledger::open_or_none(None).unwrap().is_some());
}

#[test]
fn threads_share_a_run_exactly() {
    let l = ledger();
    let run = l.run(&rid("threads"), &RunOptions::new()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5000 {
                    run.charge(3).unwrap();
                }
                for _ in 0..500 {
                    let mut h = run.reserve(7, 0).unwrap();
                    h.commit(7).unwrap();
                }
            });
        }
    });
    let st = run.status().unwrap();
    assert_eq!((st.spent_nanos, st.calls, st.held_nanos), (4 * 5000 * 3 + 4 * 500 * 7, 4 * 5500, 0));
    run.end().unwrap();
}
