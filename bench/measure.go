package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// op is one operation of a workload, built before the measurement starts
// so that building it is not measured.
type op struct {
	what string // for error messages
	run  func(ctx context.Context) error
}

// load is what the workers of one repetition do: ops[w] are worker w's, in
// order. With a budget, each worker stops once the budget is spent and it
// has done at least minOps.
type load struct {
	ops    [][]op
	budget time.Duration
	minOps int
}

// measure runs a load and returns what it measured. The first failing
// operation stops every worker and is returned.
func measure(ctx context.Context, l load) (Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([][]time.Duration, len(l.ops))
	for w := range l.ops {
		lat[w] = make([]time.Duration, 0, len(l.ops[w]))
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	runtime.GC()
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var deadline time.Time
	for w := range l.ops {
		wg.Go(func() {
			<-start
			for i, o := range l.ops[w] {
				t0 := time.Now()
				err := o.run(ctx)
				t1 := time.Now()
				if err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = fmt.Errorf("%s: %w", o.what, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				lat[w] = append(lat[w], t1.Sub(t0))
				if l.budget > 0 && i+1 >= l.minOps && t1.After(deadline) {
					return
				}
			}
		})
	}
	t0 := time.Now()
	deadline = t0.Add(l.budget)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&after)
	if firstErr != nil {
		return Sample{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Sample{}, err
	}
	s := Sample{Elapsed: elapsed, Mallocs: after.Mallocs - before.Mallocs, AllocBytes: after.TotalAlloc - before.TotalAlloc, PeakRSS: peakRSS()}
	for _, ls := range lat {
		for _, d := range ls {
			s.Latency.Add(d)
		}
		s.Ops += int64(len(ls))
	}
	return s, nil
}

// resetPeakRSS resets the process's high-water mark of resident memory
// (Linux: writing 5 to clear_refs); where that is refused, peak RSS is the
// process's since it started.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's VmHWM in bytes, or 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
