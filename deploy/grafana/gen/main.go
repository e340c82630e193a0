// Command gen writes Spindle's Grafana dashboard (package grafana) as
// JSON: `go run ./grafana/gen -o grafana/spindle.json` in deploy/ (make
// dashboard). deploy's tests fail when the committed file differs.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spindle-yarn/spindle/deploy/grafana"
)

func main() {
	out := flag.String("o", "", "write the dashboard here (default: stdout)")
	flag.Parse()
	b, err := grafana.JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
