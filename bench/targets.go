package bench

import (
	"fmt"
	"strings"
	"time"
)

// Verdict is how a run measured up to one of issue 5's targets on one
// filesystem.
type Verdict struct {
	Target string `json:"target"`
	FS     string `json:"fs"`
	// Measured is the figure compared, Want the threshold.
	Measured float64 `json:"measured"`
	Want     float64 `json:"want"`
	// Status is "met", "missed" or "not measured".
	Status string `json:"status"`
	// Detail says what was compared, and by how much it missed.
	Detail string `json:"detail"`
}

// find returns the result of the case that matches, or nil.
func (r *Report) find(fs, backend string, match func(Case) bool) *Result {
	for i := range r.Results {
		res := &r.Results[i]
		if res.FS == fs && res.Backend == backend && match(res.Case) {
			return res
		}
	}
	return nil
}

// evaluateTargets checks the targets in every filesystem of the
// run, each comparing figures measured in that run.
func evaluateTargets(r *Report) []Verdict {
	var out []Verdict
	largest := 0
	if len(r.Config.Sizes) > 0 {
		largest = r.Config.Sizes[len(r.Config.Sizes)-1]
	}
	for _, fs := range r.Config.FS {
		hotStat := func(c Case) bool {
			return c.Workload == "stat-id" && c.Cache == "hot" && c.Mode == "strict" && c.Workers == 1 && c.Dataset == largest
		}
		out = append(out,
			r.faster(fs, "hot stat by id (strict, 1 worker, n="+count(largest)+"): mpk ≥ 8× PostgreSQL", "postgres", 8, hotStat),
			r.faster(fs, "hot stat by id (strict, 1 worker, n="+count(largest)+"): mpk ≥ 2.5× SQLite", "sqlite", 2.5, hotStat),
			r.faster(fs, "hot listing of 1 000 children (strict): mpk faster than PostgreSQL", "postgres", 1, func(c Case) bool {
				return c.Workload == "list" && c.Variant == "" && c.Cache == "hot" && c.Mode == "strict" && c.Children == 1000
			}),
			r.faster(fs, "durable creates, 8 writers in one space (own folders, shared root): mpk ≥ 2× PostgreSQL", "postgres", 2, func(c Case) bool {
				return c.Workload == "create-files" && c.Durability == Fsync && c.Placement == "space" && c.Workers == 8
			}),
			r.faster(fs, "durable creates, 8 writers in one folder: mpk ≥ 2× PostgreSQL", "postgres", 2, func(c Case) bool {
				return c.Workload == "create-files" && c.Durability == Fsync && c.Placement == "folder" && c.Workers == 8
			}),
		)
		out = append(out, r.flat(fs, "mpk"))
	}
	return out
}

// faster compares mpk's rate with another backend's on the matching case:
// met when mpk's median rate is at least want times the other's.
func (r *Report) faster(fs, target, other string, want float64, match func(Case) bool) Verdict {
	v := Verdict{Target: target, FS: fs, Want: want, Status: "not measured"}
	a, b := r.find(fs, "mpk", match), r.find(fs, other, match)
	if a == nil || b == nil || b.OpsPerSec == 0 {
		v.Detail = "mpk and " + other + " were not both measured in this run"
		return v
	}
	v.Measured = a.OpsPerSec / b.OpsPerSec
	v.Detail = fmt.Sprintf("mpk %s/s (p50 %s), %s %s/s (p50 %s): %.2f×", rate(a.OpsPerSec), dur(a.P50), other, rate(b.OpsPerSec), dur(b.P50), v.Measured)
	v.Status = "met"
	if v.Measured < want || (want == 1 && v.Measured <= 1) {
		v.Status = "missed"
		v.Detail += fmt.Sprintf("; short of %.3g× by %.0f%%", want, 100*(1-v.Measured/want))
	}
	return v
}

// flat checks that the upload burst's per-file cost (wall time per file
// with all uploaders busy) stays within 25% from the first measured
// folder size to the last.
func (r *Report) flat(fs, backend string) Verdict {
	at := r.Config.BurstAt
	v := Verdict{Target: "upload burst into one folder: " + backend + "'s per-file cost flat within 25%", FS: fs, Want: 1.25, Status: "not measured"}
	if len(at) < 2 {
		v.Detail = "the burst was measured at fewer than two folder sizes"
		return v
	}
	burst := func(n int) func(Case) bool {
		return func(c Case) bool { return c.Workload == "upload-burst" && c.Children == n }
	}
	first, last := r.find(fs, backend, burst(at[0])), r.find(fs, backend, burst(at[len(at)-1]))
	if first == nil || last == nil || first.OpsPerSec == 0 || last.OpsPerSec == 0 {
		v.Detail = "the burst was not measured in this run"
		return v
	}
	v.Measured = first.OpsPerSec / last.OpsPerSec // cost ratio, last over first
	v.Detail = fmt.Sprintf("%s per file at %s files, %s at %s: %.2f×", dur(costOf(first)), count(at[0]), dur(costOf(last)), count(at[len(at)-1]), v.Measured)
	var mid []string
	for _, n := range at[1 : len(at)-1] {
		if m := r.find(fs, backend, burst(n)); m != nil {
			mid = append(mid, fmt.Sprintf("%s at %s", dur(costOf(m)), count(n)))
		}
	}
	if len(mid) > 0 {
		v.Detail += fmt.Sprintf(" (%s)", strings.Join(mid, ", "))
	}
	v.Status = "met"
	if v.Measured > v.Want {
		v.Status = "missed"
		v.Detail += fmt.Sprintf("; grows %.0f%%, %.0f points over the 25%% allowed", 100*(v.Measured-1), 100*(v.Measured-v.Want))
	}
	return v
}

// costOf is the wall time per operation with all workers busy.
func costOf(r *Result) time.Duration {
	if r.OpsPerSec == 0 {
		return 0
	}
	return time.Duration(1e9 / r.OpsPerSec)
}
