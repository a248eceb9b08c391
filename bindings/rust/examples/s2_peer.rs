//! The other process of scenario S2: attaches to RUN_ID, which a Python process holds
//! open, checks it sees EXPECTED_SPENT nanos, that a $0.01 call is denied for the run's
//! hard limit, then charges $0.25 (recorded past the limit) and detaches.
//!     s2_peer RUN_ID EXPECTED_SPENT_NANOS
use agentbudget::{usd, Error, Ledger, Reason, RunOptions};
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: s2_peer RUN_ID EXPECTED_SPENT_NANOS");
        exit(2);
    }
    let expected: i64 = args[2].parse().expect("EXPECTED_SPENT_NANOS");
    let ledger = Ledger::open(None).expect("open");
    let run = ledger.run(&args[1], &RunOptions::new()).expect("attach");
    let mut ok = !run.created();
    let st = run.status().expect("status");
    ok &= st.spent_nanos == expected;
    let denial = run.admit(usd("0.01").unwrap());
    ok &= matches!(denial, Err(Error::Denied { reason: Reason::RunHardLimit, .. }));
    let ch = run.charge_usd("0.25").expect("charge");
    ok &= ch.over_hard();
    let after = run.status().expect("status").spent_nanos;
    ok &= after == expected + 250_000_000;
    println!(
        "rust peer: attached={} spent={} admit($0.01)={} charged 0.25 -> spent={}",
        !run.created(), st.spent_nanos,
        match &denial { Ok(()) => "allowed".to_string(), Err(e) => e.to_string() }, after
    );
    run.detach();
    exit(if ok { 0 } else { 1 });
}
