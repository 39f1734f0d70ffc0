package main

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// workload is what a target prepared: size operations (0: any number, the work is reusable), each
// run by do with its index.
type workload struct {
	size int
	do   func(i int) error
}

// phase is one stretch of load: the completed operations' latencies, the failures and the first
// failure's text.
type phase struct {
	latencies []time.Duration
	errors    int
	firstErr  string
	elapsed   time.Duration
	// exhausted: the prepared operations (or -count) ran out before the deadline.
	exhausted bool
}

// counter hands out operation indexes up to a limit shared by warm-up and measurement.
type counter struct {
	next  atomic.Int64
	limit int64 // 0: none
}

func (c *counter) take() (int, bool) {
	i := c.next.Add(1) - 1
	if c.limit > 0 && i >= c.limit {
		return 0, false
	}
	return int(i), true
}

// run keeps concurrency operations in flight until the deadline passes or the counter runs dry; an
// operation already started is finished and counted.
func run(w workload, ops *counter, concurrency int, length time.Duration) phase {
	start := time.Now()
	deadline := start.Add(length)
	var mu sync.Mutex
	var p phase
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var errs int
			var first string
			for length == 0 || time.Now().Before(deadline) {
				i, ok := ops.take()
				if !ok {
					mu.Lock()
					p.exhausted = true
					mu.Unlock()
					break
				}
				began := time.Now()
				if err := w.do(i); err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(began))
			}
			mu.Lock()
			p.latencies = append(p.latencies, mine...)
			p.errors += errs
			if p.firstErr == "" {
				p.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}

// percentile is the nearest-rank percentile (0 < q <= 1) of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return float64(sorted[rank]) / float64(time.Millisecond)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}
