package bench

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Histogram counts durations in log-linear buckets: exact below 128 ns,
// then 64 buckets per power of two, so a percentile read from it is off
// by less than 1%. Histograms of several repetitions merge exactly.
type Histogram struct {
	Counts map[int]int64 `json:"counts"`
	N      int64         `json:"n"`
	Min    int64         `json:"min_ns"`
	Max    int64         `json:"max_ns"`
	Sum    int64         `json:"sum_ns"`
}

const subBuckets = 64

func bucketOf(ns int64) int {
	if ns < 2*subBuckets {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 7 // ns>>e is in [64, 128)
	return 2*subBuckets + (e-1)*subBuckets + int(ns>>e) - subBuckets
}

// bucketMid is the middle of a bucket's range.
func bucketMid(b int) int64 {
	if b < 2*subBuckets {
		return int64(b)
	}
	e := (b-2*subBuckets)/subBuckets + 1
	lo := int64((b-2*subBuckets)%subBuckets+subBuckets) << e
	return lo + (int64(1)<<e)/2
}

// Add records one duration.
func (h *Histogram) Add(d time.Duration) {
	ns := int64(d)
	if h.Counts == nil {
		h.Counts = map[int]int64{}
	}
	if h.N == 0 || ns < h.Min {
		h.Min = ns
	}
	if ns > h.Max {
		h.Max = ns
	}
	h.Counts[bucketOf(ns)]++
	h.N++
	h.Sum += ns
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o Histogram) {
	if o.N == 0 {
		return
	}
	if h.Counts == nil {
		h.Counts = map[int]int64{}
	}
	if h.N == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	h.Max = max(h.Max, o.Max)
	for b, c := range o.Counts {
		h.Counts[b] += c
	}
	h.N += o.N
	h.Sum += o.Sum
}

// Quantile returns the q-quantile (0 < q <= 1) by nearest rank, or 0 for an
// empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.N)))
	rank = min(max(rank, 1), h.N)
	keys := make([]int, 0, len(h.Counts))
	for b := range h.Counts {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	var seen int64
	for _, b := range keys {
		seen += h.Counts[b]
		if seen >= rank {
			return time.Duration(min(max(bucketMid(b), h.Min), h.Max))
		}
	}
	return time.Duration(h.Max)
}

// Mean is the average duration.
func (h Histogram) Mean() time.Duration {
	if h.N == 0 {
		return 0
	}
	return time.Duration(h.Sum / h.N)
}

// median of xs (the mean of the middle two for an even count); 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Sample is what one repetition of a case measured in one backend.
type Sample struct {
	Ops     int64         `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Latency Histogram     `json:"latency"`
	// Mallocs and AllocBytes are the worker process's, over the
	// measurement (all goroutines: the backend's own included).
	Mallocs    uint64 `json:"mallocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	// PeakRSS is the worker's VmHWM, reset before the measurement; 0 if
	// unknown.
	PeakRSS int64 `json:"peak_rss"`
}

// Rate is operations per second of wall time.
func (s Sample) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// Result is the summary of a case in one backend on one filesystem.
type Result struct {
	FS      string `json:"fs"`
	Backend string `json:"backend"`
	Case    Case   `json:"case"`
	// OpsPerSec is the median over the repetitions; Rates are each one's.
	OpsPerSec float64   `json:"ops_per_sec"`
	Rates     []float64 `json:"rates"`
	// Percentiles of the latencies of all repetitions together.
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	// AllocsPerOp and BytesPerOp are medians over the repetitions.
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// PeakRSS is the largest of the repetitions, in bytes.
	PeakRSS int64 `json:"peak_rss"`
	Ops     int64 `json:"ops"`
}

// summarize reduces the repetitions of a case.
func summarize(fs, backend string, c Case, reps []Sample) Result {
	r := Result{FS: fs, Backend: backend, Case: c}
	var h Histogram
	var allocs, bytes []float64
	for _, s := range reps {
		r.Rates = append(r.Rates, s.Rate())
		h.Merge(s.Latency)
		if s.Ops > 0 {
			allocs = append(allocs, float64(s.Mallocs)/float64(s.Ops))
			bytes = append(bytes, float64(s.AllocBytes)/float64(s.Ops))
		}
		r.PeakRSS = max(r.PeakRSS, s.PeakRSS)
		r.Ops += s.Ops
	}
	r.OpsPerSec = median(r.Rates)
	r.P50, r.P95, r.P99 = h.Quantile(0.50), h.Quantile(0.95), h.Quantile(0.99)
	r.AllocsPerOp, r.BytesPerOp = median(allocs), median(bytes)
	return r
}
