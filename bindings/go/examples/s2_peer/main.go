// Command s2_peer is the other process of scenario S2: it attaches to RUN_ID, which a
// Python process holds open, checks it sees EXPECTED_SPENT nanos, that a $0.01 call is
// denied for the run's hard limit, then charges $0.25 (recorded past the limit) and
// detaches.
//
//	s2_peer RUN_ID EXPECTED_SPENT_NANOS
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	ab "agentbudget"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: s2_peer RUN_ID EXPECTED_SPENT_NANOS")
		os.Exit(2)
	}
	expected, _ := strconv.ParseInt(os.Args[2], 10, 64)
	l, err := ab.Open("")
	if err != nil {
		panic(err)
	}
	run, err := l.Begin(os.Args[1], ab.RunOptions{})
	if err != nil {
		panic(err)
	}
	ok := !run.Created()
	st, _ := run.Status()
	ok = ok && st.SpentNanos == expected
	admit := run.Admit(ab.MustUSD("0.01"))
	var d *ab.DeniedError
	ok = ok && errors.As(admit, &d) && d.Reason == ab.ReasonRunHard
	ch, err := run.ChargeUSD("0.25")
	ok = ok && err == nil && ch.OverHard()
	after, _ := run.Status()
	ok = ok && after.SpentNanos == expected+250_000_000
	fmt.Printf("go peer: attached=%v spent=%d admit($0.01)=%v charged 0.25 -> spent=%d\n", !run.Created(), st.SpentNanos, admit, after.SpentNanos)
	run.Detach()
	l.Close()
	if !ok {
		os.Exit(1)
	}
}
