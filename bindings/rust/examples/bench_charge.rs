//! Micro benchmark: one `Run::charge` through the Rust binding. Prints ns/op, the median
//! of 7 repetitions of 2,000,000 charges (build with --release).
use agentbudget::{Ledger, RunOptions};
use std::time::Instant;

fn main() {
    let ledger = Ledger::open(None).expect("open the ledger ($AGENTBUDGET_LEDGER)");
    let run = ledger.run(&format!("bench-rs-{}", std::process::id()), &RunOptions::new()).expect("begin");
    const N: u32 = 2_000_000;
    let mut reps: Vec<f64> = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..N {
            run.charge(1).unwrap();
        }
        reps.push(t.elapsed().as_nanos() as f64 / f64::from(N));
    }
    reps.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let st = run.status().unwrap();
    assert_eq!(st.spent_nanos, i64::from(N) * 7);
    run.end().unwrap();
    println!("rust  Run::charge  median {:.1} ns/op  (min {:.1}, max {:.1}; 7 x {} charges)", reps[3], reps[0], reps[6], N);
}
