// Command bench_charge: one Run.Charge through the Go binding (a cgo call plus the
// handle's read lock). Prints ns/op, the median of 7 repetitions of 2,000,000 charges.
package main

import (
	"fmt"
	"os"
	"sort"
	"time"

	ab "agentbudget"
)

func main() {
	l, err := ab.Open("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer l.Close()
	run, err := l.Begin(fmt.Sprintf("bench-go-%d", os.Getpid()), ab.RunOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	const n = 2_000_000
	var reps []float64
	for r := 0; r < 7; r++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			run.Charge(1)
		}
		reps = append(reps, float64(time.Since(t).Nanoseconds())/n)
	}
	sort.Float64s(reps)
	st, _ := run.Status()
	if st.SpentNanos != 7*n {
		panic("spent does not add up")
	}
	run.End()
	fmt.Printf("go    Run.Charge   median %.1f ns/op  (min %.1f, max %.1f; 7 x %d charges)\n", reps[3], reps[0], reps[6], n)
}
