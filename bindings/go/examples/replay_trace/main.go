// Command replay_trace replays one recorded agent run through the Go binding, as the
// agent would have run under a budget: before each LLM call, ask whether any budget is
// left; after it, charge the call's usage as the provider reported it.
//
//	AGENTBUDGET_LEDGER=... go run ./examples/replay_trace \
//	    -calls ../../data/traces/mini_swe_agent_gemini3pro/calls.jsonl \
//	    -run mswea-gemini3pro-astropy__astropy-14508 -budget 0.25
//
// The last line is a summary: calls, charged_nanos, recorded_nanos (the source's own
// cost of the calls made, where recorded) and why the run stopped.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	ab "agentbudget"
)

type call struct {
	RunID    string         `json:"run_id"`
	Seq      int            `json:"seq"`
	Model    string         `json:"model"`
	Provider string         `json:"provider"`
	CostUSD  *json.Number   `json:"cost_usd"`
	RawUsage map[string]any `json:"raw_usage"`
}

func main() {
	callsPath := flag.String("calls", "", "a calls.jsonl file of data/traces")
	runArg := flag.String("run", "", "the run_id to replay")
	budget := flag.String("budget", "", "hard limit of the run, USD (default: the policy's)")
	ledgerName := flag.String("ledger", "", "ledger name (default: $AGENTBUDGET_LEDGER)")
	flag.Parse()
	if *callsPath == "" || *runArg == "" {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(*callsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var calls []call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"`+*runArg+`"`) {
			continue
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber() // token counts and recorded costs stay exact
		var c call
		if err := d.Decode(&c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if c.RunID == *runArg {
			calls = append(calls, c)
		}
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].Seq < calls[j].Seq })
	if len(calls) == 0 {
		fmt.Fprintf(os.Stderr, "no calls of %s in %s\n", *runArg, *callsPath)
		os.Exit(2)
	}

	ledger, err := ab.Open(*ledgerName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "opening the ledger:", err)
		os.Exit(1)
	}
	defer ledger.Close()
	opts := ab.RunOptions{Labels: "agent=replay"}
	if *budget != "" {
		if opts.Hard, err = ab.USD(*budget); err != nil {
			fmt.Fprintln(os.Stderr, "-budget:", err)
			os.Exit(2)
		}
	}
	runID := fmt.Sprintf("example-go-%d-%s", os.Getpid(), *runArg)
	if len(runID) > 127 {
		runID = runID[:127]
	}
	run, err := ledger.Begin(runID, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer run.Detach() // after End: a no-op
	var charged, recorded int64
	made, stopped := 0, "none"
	for _, c := range calls {
		var denied *ab.DeniedError
		if err := run.Admit(0); errors.As(err, &denied) {
			fmt.Printf("call %3d: denied (%s); the agent stops here\n", c.Seq, denied.Reason)
			stopped = denied.Reason.String()
			break
		} else if err != nil {
			panic(err)
		}
		u, err := ab.UsageFromJSON(c.RawUsage)
		if err != nil {
			panic(err)
		}
		if c.Provider == "google" { // the Portkey route reports reasoning outside completion_tokens
			u.ReasoningSeparate = true
		}
		ch, err := run.ChargeUsage(c.Model, u)
		if err != nil {
			panic(err)
		}
		made++
		charged += ch.Nanos
		if c.CostUSD != nil {
			recorded += ab.MustUSD(c.CostUSD.String())
		}
		st, _ := run.Status()
		note := ""
		if ch.OverHard() {
			note = " over hard limit"
		} else if ch.OverSoft() {
			note = " over a soft threshold"
		}
		fmt.Printf("call %3d: %s charged %s, run at %s%s\n", c.Seq, c.Model, ab.FormatUSD(ch.Nanos), ab.FormatUSD(st.SpentNanos), note)
	}
	st, _ := run.Status()
	if err := run.End(); err != nil {
		panic(err)
	}
	fmt.Printf("run %s: calls=%d/%d charged_nanos=%d spent_nanos=%d recorded_nanos=%d stopped=%s\n",
		*runArg, made, len(calls), charged, st.SpentNanos, recorded, stopped)
}
