// peers-driver puts one fixed load on one certificate service and prints what it measured as one
// JSON object: the same driver for the tether hub, step-ca, cfssl and nginx, so that their figures
// differ only by the server (bench/peers.ts runs it; docs/benchmarks.md says what each mode includes).
//
// Everything that is not the measured operation (CSRs, one-time tokens) is prepared first; then
// -warmup of unmeasured load, then -duration (or until -count operations) measured, with the server
// processes' CPU time read from /proc before and after.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type report struct {
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	NewConn     bool    `json:"newConn"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	ElapsedS    float64 `json:"elapsedS"`
	PerSecond   float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	ServerCPUMs float64 `json:"serverCpuMs"`
	// Per successful operation.
	ServerCPUMsPerOp float64 `json:"serverCpuMsPerOp"`
	DriverCPUMsPerOp float64 `json:"driverCpuMsPerOp"`
	Exhausted        bool    `json:"exhausted"`
	Prepared         int     `json:"prepared"`
	PrepareS         float64 `json:"prepareS"`
}

func main() {
	c, err := parseConfig(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers-driver:", err)
		os.Exit(2)
	}
	r, err := measure(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers-driver:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func measure(c config) (report, error) {
	client, err := newClient(c)
	if err != nil {
		return report{}, err
	}
	began := time.Now()
	w, err := prepare(c, client)
	if err != nil {
		return report{}, fmt.Errorf("preparing %s: %w", c.mode, err)
	}
	prepared := time.Since(began)
	ops := &counter{limit: int64(c.count)}
	if c.warmup > 0 {
		if warm := run(w, ops, c.concurrency, c.warmup); warm.errors > 0 && len(warm.latencies) == 0 {
			return report{}, fmt.Errorf("warm-up: every request failed (%d), first: %s", warm.errors, warm.firstErr)
		}
	}
	before, err := serverTicks(c.pids)
	if err != nil {
		return report{}, err
	}
	driverBefore := selfCPU()
	p := run(w, ops, c.concurrency, c.duration)
	driverCPU := selfCPU() - driverBefore
	after, err := serverTicks(c.pids)
	if err != nil {
		return report{}, fmt.Errorf("after the run: %w", err)
	}
	sortDurations(p.latencies)
	n := len(p.latencies)
	r := report{
		Mode:        c.mode,
		Concurrency: c.concurrency,
		NewConn:     c.newConn,
		Ops:         n,
		Errors:      p.errors,
		FirstError:  p.firstErr,
		ElapsedS:    p.elapsed.Seconds(),
		P50Ms:       percentile(p.latencies, 0.50),
		P99Ms:       percentile(p.latencies, 0.99),
		ServerCPUMs: cpuMs(before, after),
		Exhausted:   p.exhausted,
		Prepared:    w.size,
		PrepareS:    prepared.Seconds(),
	}
	if n > 0 {
		r.PerSecond = float64(n) / p.elapsed.Seconds()
		r.ServerCPUMsPerOp = r.ServerCPUMs / float64(n)
		r.DriverCPUMsPerOp = float64(driverCPU) / float64(time.Millisecond) / float64(n)
	}
	return r, nil
}
