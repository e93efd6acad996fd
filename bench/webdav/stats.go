package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// results are the samples of one run, by workload and peer name.
type results struct {
	propHot   map[string][]time.Duration // per request, hot process
	propCold  map[string][]time.Duration // first PROPFIND of a fresh process (login already checked)
	propFirst []time.Duration            // s3dfs: first request of a fresh process, login included
	small     map[string]*transfer
	big       map[string]*transfer
	move      map[string][]time.Duration
}

// transfer holds the samples of a PUT and GET workload of one peer.
type transfer struct {
	size     int64
	put, get []time.Duration // per request
	// putRate and getRate are requests per second of each round (the
	// round's requests divided by their summed time), for the 4 KiB runs.
	putRate, getRate []float64
}

func newResults() *results {
	return &results{
		propHot:  map[string][]time.Duration{},
		propCold: map[string][]time.Duration{},
		small:    map[string]*transfer{},
		big:      map[string]*transfer{},
		move:     map[string][]time.Duration{},
	}
}

// quantile is the nearest-rank q-quantile (0 < q <= 1) of ds; 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median is the middle sample, or the mean of the two middle ones.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianF(fs []float64) float64 {
	if len(fs) == 0 {
		return 0
	}
	s := slices.Clone(fs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rate is requests per second over the summed time of the requests.
func rate(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	if sum <= 0 {
		return 0
	}
	return float64(len(ds)) / sum.Seconds()
}

// mbps is the throughput of moving size bytes in d, in MB/s (10^6 bytes).
func mbps(size int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(size) / 1e6 / d.Seconds()
}

// target is one performance target of issue 4.
type target struct {
	what string
	// Exactly one of limit (a time that must not be exceeded) and minRatio
	// (a fraction of the baseline that must be reached) is set.
	limit    time.Duration
	minRatio float64
}

// verdict compares a measurement with the target: for a time limit the
// measured time, for a ratio target the measured ratio (value / baseline).
func (t target) verdict(d time.Duration, ratio float64) (met bool, text string) {
	if t.limit > 0 {
		if d <= 0 {
			return false, "not measured"
		}
		if d <= t.limit {
			return true, fmt.Sprintf("met: %s <= %s (%.0f%% of the limit)", ms(d), ms(t.limit), 100*float64(d)/float64(t.limit))
		}
		return false, fmt.Sprintf("missed by %s: %s, %.1fx the limit of %s", ms(d-t.limit), ms(d), float64(d)/float64(t.limit), ms(t.limit))
	}
	if ratio <= 0 || math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return false, "not measured"
	}
	if ratio >= t.minRatio {
		return true, fmt.Sprintf("met: %.0f%% >= %.0f%% of the baseline", 100*ratio, 100*t.minRatio)
	}
	return false, fmt.Sprintf("missed by %.0f points: %.0f%% of the baseline, target %.0f%%", 100*(t.minRatio-ratio), 100*ratio, 100*t.minRatio)
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// rotate returns xs starting at element i mod len(xs), so that the peers
// take turns being first in a repetition.
func rotate[T any](xs []T, i int) []T {
	if len(xs) == 0 {
		return nil
	}
	i %= len(xs)
	return append(slices.Clone(xs[i:]), xs[:i]...)
}
