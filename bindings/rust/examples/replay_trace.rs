//! Replays one recorded agent run through the Rust binding, as the agent would have run
//! under a budget: before each LLM call, ask whether any budget is left; after it, charge
//! the call's usage as the provider reported it.
//!
//!     AGENTBUDGET_LEDGER=... cargo run --offline --example replay_trace -- \
//!         --calls ../../data/traces/mini_swe_agent_gemini3pro/calls.jsonl \
//!         --run mswea-gemini3pro-astropy__astropy-14508 --budget 0.25
//!
//! The last line is a summary: calls, charged_nanos, recorded_nanos (the source's own
//! cost of the calls made, where recorded) and why the run stopped.
use std::io::{BufRead, BufReader};
use std::process::exit;

use agentbudget::{usd, Error, Ledger, RunOptions, Usage};

#[path = "support/json.rs"]
mod json;
use json::Json;

fn count(obj: Option<&Json>, key: &str) -> Result<u64, String> {
    match obj.and_then(|o| o.get(key)) {
        None => Ok(0),
        Some(v) => Ok(v.as_u64()?.unwrap_or(0)),
    }
}

/// The provider's usage block as ab_usage: OpenAI/OpenRouter (prompt_tokens) or Anthropic.
fn usage_of(raw: &Json, provider: &str) -> Result<Usage, String> {
    let r = Some(raw);
    if raw.get("prompt_tokens").is_some() {
        let u = Usage::openai(
            count(r, "prompt_tokens")?,
            count(raw.get("prompt_tokens_details"), "cached_tokens")?,
            count(r, "completion_tokens")?,
            count(raw.get("completion_tokens_details"), "reasoning_tokens")?,
        );
        // The Portkey route reports Gemini's reasoning outside completion_tokens.
        Ok(if provider == "google" { u.with_reasoning_separate(true) } else { u })
    } else if raw.get("input_tokens").is_some() {
        let cc = raw.get("cache_creation");
        let split = cc.map_or(false, |c| c.get("ephemeral_5m_input_tokens").is_some() || c.get("ephemeral_1h_input_tokens").is_some());
        let (w5, w1) = if split {
            (count(cc, "ephemeral_5m_input_tokens")?, count(cc, "ephemeral_1h_input_tokens")?)
        } else {
            (count(r, "cache_creation_input_tokens")?, 0)
        };
        Ok(Usage::anthropic(count(r, "input_tokens")?, count(r, "cache_read_input_tokens")?, w5, w1, count(r, "output_tokens")?))
    } else {
        Err("raw_usage has neither prompt_tokens nor input_tokens".into())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut calls_path, mut run_arg, mut budget, mut ledger_name) = (None, None, None, None);
    let mut i = 1;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--calls" => calls_path = Some(args[i + 1].clone()),
            "--run" => run_arg = Some(args[i + 1].clone()),
            "--budget" => budget = Some(args[i + 1].clone()),
            "--ledger" => ledger_name = Some(args[i + 1].clone()),
            other => {
                eprintln!("unknown option {}", other);
                exit(2);
            }
        }
        i += 2;
    }
    let (calls_path, run_arg) = match (calls_path, run_arg) {
        (Some(c), Some(r)) => (c, r),
        _ => {
            eprintln!("usage: replay_trace --calls CALLS_JSONL --run RUN_ID [--budget USD] [--ledger NAME]");
            exit(2);
        }
    };

    let file = std::fs::File::open(&calls_path).unwrap_or_else(|e| {
        eprintln!("{}: {}", calls_path, e);
        exit(2)
    });
    let needle = format!("\"{}\"", run_arg);
    let mut calls: Vec<Json> = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.expect("read");
        if !line.contains(&needle) {
            continue;
        }
        let j = json::parse(&line).unwrap_or_else(|e| panic!("{}: {}", calls_path, e));
        if j.get("run_id").and_then(|v| v.as_str()) == Some(run_arg.as_str()) {
            calls.push(j);
        }
    }
    let seq = |c: &Json| c.get("seq").and_then(|s| s.as_u64().ok().flatten()).unwrap_or(0);
    calls.sort_by_key(|c| seq(c));
    if calls.is_empty() {
        eprintln!("no calls of {} in {}", run_arg, calls_path);
        exit(2);
    }

    let ledger = Ledger::open(ledger_name.as_deref()).unwrap_or_else(|e| {
        eprintln!("opening the ledger: {}", e);
        exit(1)
    });
    let mut opts = RunOptions::new().labels("agent=replay");
    if let Some(b) = &budget {
        opts = opts.hard(usd(b).expect("--budget"));
    }
    let mut run_id = format!("example-rs-{}-{}", std::process::id(), run_arg);
    run_id.truncate(127);
    let run = ledger.run(&run_id, &opts).expect("begin");
    let (mut charged, mut recorded, mut made) = (0i64, 0i64, 0usize);
    let mut stopped = "none".to_string();
    for c in &calls {
        match run.admit(0) {
            Ok(()) => {}
            Err(Error::Denied { reason, .. }) => {
                println!("call {:>3}: denied ({}); the agent stops here", seq(c), reason);
                stopped = reason.name().to_string();
                break;
            }
            Err(e) => panic!("admit: {}", e),
        }
        let model = c.get("model").and_then(|m| m.as_str()).expect("model");
        let provider = c.get("provider").and_then(|p| p.as_str()).unwrap_or("");
        let usage = usage_of(c.get("raw_usage").expect("raw_usage"), provider).expect("usage");
        let ch = run.charge_usage(model, &usage).expect("charge_usage");
        made += 1;
        charged += ch.nanos;
        if let Some(cost) = c.get("cost_usd").and_then(|v| v.num_text()) {
            recorded += usd(cost).expect("cost_usd");
        }
        let st = run.status().expect("status");
        let note = if ch.over_hard() { " over hard limit" } else if ch.over_soft() { " over a soft threshold" } else { "" };
        println!(
            "call {:>3}: {} charged ${}.{:09}, run at ${}.{:09}{}",
            seq(c), model, ch.nanos / 1_000_000_000, ch.nanos % 1_000_000_000,
            st.spent_nanos / 1_000_000_000, st.spent_nanos % 1_000_000_000, note
        );
    }
    let st = run.status().expect("status");
    run.end().expect("end");
    println!(
        "run {}: calls={}/{} charged_nanos={} spent_nanos={} recorded_nanos={} stopped={}",
        run_arg, made, calls.len(), charged, st.spent_nanos, recorded, stopped
    );
}
