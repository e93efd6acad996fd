package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var exact []int64
	for range 100_000 {
		// Log-uniform from 50 ns to 50 ms, like real latencies.
		ns := int64(50 * math.Pow(10, 6*rng.Float64()))
		exact = append(exact, ns)
		h.Add(time.Duration(ns))
	}
	slices.Sort(exact)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		want := exact[int(math.Ceil(q*float64(len(exact))))-1]
		got := int64(h.Quantile(q))
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
			t.Errorf("q%.3f = %d ns, exact %d ns: off by %.2f%%", q, got, want, 100*rel)
		}
	}
	if h.N != int64(len(exact)) || h.Min != exact[0] || h.Max != exact[len(exact)-1] {
		t.Errorf("n/min/max = %d/%d/%d, want %d/%d/%d", h.N, h.Min, h.Max, len(exact), exact[0], exact[len(exact)-1])
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for _, v := range []int64{0, 1, 5, 127} {
		h.Add(time.Duration(v))
	}
	if got := h.Quantile(0.5); got != 1 {
		t.Errorf("median of 0,1,5,127 = %v, want 1ns", got)
	}
	if got := h.Quantile(1); got != 127 {
		t.Errorf("max = %v, want 127ns", got)
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("an empty histogram should report zeros")
	}
}

func TestBucketsAreContiguousAndOrdered(t *testing.T) {
	prev := -1
	for ns := int64(0); ns < 1<<20; ns++ {
		b := bucketOf(ns)
		if b != prev && b != prev+1 {
			t.Fatalf("bucket of %d is %d, after %d: a gap", ns, b, prev)
		}
		prev = b
		if mid := bucketMid(b); math.Abs(float64(mid-ns)) > float64(ns)/100+1 {
			t.Fatalf("%d ns lands in bucket %d whose middle is %d", ns, b, mid)
		}
	}
}

func TestHistogramMergeEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b, all Histogram
	for i := range 10_000 {
		d := time.Duration(rng.Int64N(int64(10 * time.Millisecond)))
		all.Add(d)
		if i%3 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
	}
	var m Histogram
	m.Merge(a)
	m.Merge(b)
	m.Merge(Histogram{})
	for _, q := range []float64{0.5, 0.95, 0.99} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%.2f: merged %v, whole %v", q, m.Quantile(q), all.Quantile(q))
		}
	}
	if m.N != all.N || m.Sum != all.Sum || m.Min != all.Min || m.Max != all.Max || m.Mean() != all.Mean() {
		t.Errorf("merged %+v, whole %+v", m, all)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := slices.Clone(tc.in)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median reordered its input")
		}
	}
}

func TestSummarize(t *testing.T) {
	mk := func(ops int64, elapsed time.Duration, lat time.Duration, mallocs uint64, rss int64) Sample {
		s := Sample{Ops: ops, Elapsed: elapsed, Mallocs: mallocs, AllocBytes: mallocs * 10, PeakRSS: rss}
		for range ops {
			s.Latency.Add(lat)
		}
		return s
	}
	reps := []Sample{
		mk(100, time.Second, time.Millisecond, 1000, 10<<20),            // 100/s
		mk(100, 500*time.Millisecond, time.Millisecond, 2000, 30<<20),   // 200/s
		mk(100, 250*time.Millisecond, 3*time.Millisecond, 3000, 20<<20), // 400/s
	}
	r := summarize("/tmp", "mpk", Case{Workload: "create-files"}, reps)
	if r.OpsPerSec != 200 {
		t.Errorf("ops/s = %v, want the median 200", r.OpsPerSec)
	}
	if r.AllocsPerOp != 20 || r.BytesPerOp != 200 {
		t.Errorf("allocs/op = %v, bytes/op = %v, want 20 and 200", r.AllocsPerOp, r.BytesPerOp)
	}
	if r.PeakRSS != 30<<20 || r.Ops != 300 {
		t.Errorf("peak RSS %d, ops %d", r.PeakRSS, r.Ops)
	}
	if r.P50 < 990*time.Microsecond || r.P50 > 1010*time.Microsecond || r.P99 < 2970*time.Microsecond {
		t.Errorf("p50 %v p99 %v", r.P50, r.P99)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{rate(1234567.4), "1 234 567"},
		{rate(100), "100"},
		{rate(56.78), "56.8"},
		{dur(850), "850 ns"},
		{dur(12345), "12.3 µs"},
		{dur(4560 * time.Microsecond), "4.56 ms"},
		{dur(2 * time.Second), "2 s"},
		{ratio(0.374), "0.37"},
		{ratio(12.6), "13"},
		{count(10_000), "10k"},
		{count(1_000_000), "1M"},
		{count(1500), "1500"},
		{mib(3 << 20), "3 MiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
