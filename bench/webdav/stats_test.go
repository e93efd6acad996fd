package main

import (
	"strings"
	"testing"
	"time"
)

func TestQuantiles(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	if got := median(ds); got != 3 {
		t.Errorf("median = %v, want 3", got)
	}
	if got := median(ds[:4]); got != 3 { // 1 2 4 5 -> (2+4)/2
		t.Errorf("median of four = %v, want 3", got)
	}
	if got := quantile(ds, 0.95); got != 5 {
		t.Errorf("p95 = %v, want 5", got)
	}
	if got := quantile(ds, 0.2); got != 1 {
		t.Errorf("p20 = %v, want 1", got)
	}
	if ds[0] != 5 {
		t.Error("median sorted its argument")
	}
	if median(nil) != 0 || quantile(nil, 0.5) != 0 || medianF(nil) != 0 {
		t.Error("statistics of nothing are not 0")
	}
}

func TestRateAndThroughput(t *testing.T) {
	if got := rate([]time.Duration{time.Millisecond, 3 * time.Millisecond}); got != 500 {
		t.Errorf("rate = %v, want 500", got)
	}
	if got := mbps(64<<20, time.Second); got < 67.1 || got > 67.2 {
		t.Errorf("mbps = %v, want 67.1", got)
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		t     target
		d     time.Duration
		ratio float64
		met   bool
		text  string
	}{
		{target{limit: 10 * time.Millisecond}, 7 * time.Millisecond, 0, true, "met: 7.00 ms <= 10.0 ms (70% of the limit)"},
		{target{limit: 10 * time.Millisecond}, 25 * time.Millisecond, 0, false, "missed by 15.0 ms: 25.0 ms, 2.5x the limit of 10.0 ms"},
		{target{limit: 10 * time.Millisecond}, 0, 0, false, "not measured"},
		{target{minRatio: 0.8}, 0, 0.85, true, "met: 85% >= 80% of the baseline"},
		{target{minRatio: 0.9}, 0, 0.6, false, "missed by 30 points: 60% of the baseline, target 90%"},
	} {
		met, text := c.t.verdict(c.d, c.ratio)
		if met != c.met || text != c.text {
			t.Errorf("verdict(%v, %v) = %v %q, want %v %q", c.d, c.ratio, met, text, c.met, c.text)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for i, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotate(xs, i), ""); got != want {
			t.Errorf("rotate(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestResponseTag(t *testing.T) {
	body := `<D:multistatus xmlns:D="DAV:"><D:response xmlns:lp1="DAV:"><D:href>/a</D:href></D:response>` +
		`<D:response><D:href>/a/b</D:href></D:response><d:responsedescription/></D:multistatus>` +
		`<response>x</response>`
	if got := len(responseTag.FindAllString(body, -1)); got != 3 {
		t.Errorf("found %d response tags, want 3", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/mnt/with\040space`); got != "/mnt/with space" {
		t.Errorf("unescapeMount = %q", got)
	}
	if !within("/tmp/x", "/tmp") || within("/tmpx", "/tmp") || !within("/anything", "/") {
		t.Error("within is wrong")
	}
}
