package bench

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// Case is one measured configuration of a workload. Every repetition of a
// case does the same kind of work on fresh targets of its own.
type Case struct {
	Workload string `json:"workload"`
	// Dataset is the number of nodes in the data space while it runs.
	Dataset int `json:"dataset"`
	Workers int `json:"workers"`
	// Placement of writers: "folder" (all in one folder), "space" (a folder
	// each, one space), "spaces" (a space each).
	Placement  string     `json:"placement,omitempty"`
	Durability Durability `json:"durability,omitempty"`
	// Cache is "hot" or "cold" for reads; Mode "strict" or "relaxed".
	Cache string `json:"cache,omitempty"`
	Mode  string `json:"mode"`
	// Depth of stat-path; Children of the listed folder, or the burst
	// folder's size at the end of the measured window.
	Depth    int `json:"depth,omitempty"`
	Children int `json:"children,omitempty"`
	// Variant: delete "files" or "folders"; list "burst" for the burst
	// folder.
	Variant string `json:"variant,omitempty"`
	// Ops is the number of operations of one repetition (all workers).
	Ops int `json:"ops"`
	// Budget, if not zero, ends a repetition of reads early once spent.
	Budget time.Duration `json:"budget,omitempty"`
}

// Slug names the case in paths and file names; unique within a plan.
func (c Case) Slug() string {
	parts := []string{c.Workload}
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	add(c.Variant)
	add(string(c.Durability))
	add(c.Placement)
	add(c.Cache)
	add(c.Mode)
	if c.Depth > 0 {
		add(fmt.Sprintf("d%d", c.Depth))
	}
	if c.Children > 0 {
		add(fmt.Sprintf("c%d", c.Children))
	}
	add(fmt.Sprintf("w%d", c.Workers))
	add(fmt.Sprintf("n%d", c.Dataset))
	return strings.Join(parts, "-")
}

// Label describes the case for people, without the workload's name.
func (c Case) Label() string {
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	add(c.Variant)
	if c.Depth > 0 {
		add(fmt.Sprintf("depth %d", c.Depth))
	}
	if c.Children > 0 {
		if c.Workload == "upload-burst" {
			add(fmt.Sprintf("at %s files", count(c.Children)))
		} else {
			add(fmt.Sprintf("%s children", count(c.Children)))
		}
	}
	add(c.Cache)
	if c.Cache != "" || c.Mode != "strict" {
		add(c.Mode) // writes run strict unless said otherwise
	}
	add(string(c.Durability))
	add(c.Placement)
	add(fmt.Sprintf("%dw", c.Workers))
	return strings.Join(parts, " ")
}

func (c Case) String() string {
	return fmt.Sprintf("%s %s (n=%s)", c.Workload, c.Label(), count(c.Dataset))
}

// writes reports whether the case changes the tree.
func (c Case) writes() bool {
	switch c.Workload {
	case "stat-id", "stat-path", "list":
		return false
	}
	return true
}

// seed derives the case's seed from the run's: the same case gets the same
// targets in every backend.
func (c Case) seed(run int64) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", run, c.Slug())
	return int64(h.Sum64() >> 1)
}

// Phase is a dataset size and the cases that run at it.
type Phase struct {
	Dataset int
	Cases   []Case
}

// Plan returns the cases of a run, phase by phase (one per dataset size,
// ascending). Reads run at every size, writes and the burst at the last.
func (c Config) Plan() []Phase {
	var phases []Phase
	for i, n := range c.Sizes {
		p := Phase{Dataset: n, Cases: c.readCases(n)}
		if i == len(c.Sizes)-1 {
			p.Cases = append(p.Cases, c.writeCases(n)...)
			p.Cases = append(p.Cases, c.burstCases(n)...)
		}
		phases = append(phases, p)
	}
	return phases
}

// states are the (cache, mode) pairs reads run in: hot in every mode, cold
// in the first (a cold read validates nothing, so the modes do not differ).
func (c Config) states() [][2]string {
	var out [][2]string
	for _, cs := range c.Caches {
		for i, m := range c.Modes {
			if cs == "cold" && i > 0 {
				continue
			}
			out = append(out, [2]string{cs, m})
		}
	}
	return out
}

func (c Config) readCases(n int) []Case {
	var out []Case
	hot := func(cs Case) Case {
		cs.Ops, cs.Budget = roundUp(c.HotOps, cs.Workers), c.HotBudget
		return cs
	}
	if c.wants("stat-id") {
		for _, st := range c.states() {
			cs := Case{Workload: "stat-id", Dataset: n, Workers: 1, Cache: st[0], Mode: st[1]}
			if st[0] == "cold" {
				cs.Ops = min(c.ColdOps, n)
				out = append(out, cs)
				continue
			}
			out = append(out, hot(cs))
			if st[1] == c.Modes[0] {
				for _, w := range c.ReadWorkers {
					if w > 1 {
						cs.Workers = w
						out = append(out, hot(cs))
					}
				}
			}
		}
	}
	if c.wants("stat-path") {
		for _, d := range c.Depths {
			for _, st := range c.states() {
				cs := Case{Workload: "stat-path", Dataset: n, Workers: 1, Cache: st[0], Mode: st[1], Depth: d}
				if st[0] == "cold" {
					cs.Ops = c.Chains
				} else {
					cs = hot(cs)
				}
				out = append(out, cs)
			}
		}
	}
	if c.wants("list") {
		for _, size := range c.ListSizes {
			out = append(out, c.listCases(n, size, "")...)
		}
	}
	return out
}

func (c Config) listCases(n, size int, variant string) []Case {
	var out []Case
	for _, st := range c.states() {
		cs := Case{Workload: "list", Variant: variant, Dataset: n, Workers: 1, Cache: st[0], Mode: st[1], Children: size}
		switch {
		case st[0] == "cold" && variant == "burst":
			cs.Ops = 1
		case st[0] == "cold":
			cs.Ops = c.listFolders(size)
		default:
			cs = Case{Workload: cs.Workload, Variant: variant, Dataset: n, Workers: 1, Cache: st[0], Mode: st[1], Children: size,
				Ops: max(1, min(c.HotOps, c.HotOps*100/size)), Budget: c.HotBudget}
		}
		out = append(out, cs)
	}
	return out
}

// listFolders is how many fixture folders of size children there are: more
// of the small ones, so that cold listings have samples enough.
func (c Config) listFolders(size int) int {
	return max(1, min(c.Chains, 2000/size))
}

// pick returns the members of want that the sweep has, or its first.
func pick(sweep []int, want ...int) []int {
	var out []int
	for _, w := range want {
		if slices.Contains(sweep, w) {
			out = append(out, w)
		}
	}
	if len(out) == 0 && len(sweep) > 0 {
		out = append(out, sweep[0])
	}
	return out
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

func (c Config) writeCases(n int) []Case {
	var out []Case
	if len(c.Durabilities) == 0 || len(c.Workers) == 0 {
		return nil
	}
	primary := c.Durabilities[0]
	most := c.Workers[len(c.Workers)-1]
	add := func(workload, variant, placement string, d Durability, workers []int, ops int) {
		if !c.wants(workload) {
			return
		}
		for _, w := range workers {
			out = append(out, Case{Workload: workload, Variant: variant, Dataset: n, Workers: w, Placement: placement,
				Durability: d, Mode: "strict", Ops: roundUp(ops, w)})
		}
	}
	for _, d := range c.Durabilities {
		if d == primary {
			add("create-files", "", "space", d, c.Workers, c.WriteOps)
			shared := pick(c.Workers, 8, most)
			shared = slices.DeleteFunc(slices.Compact(shared), func(w int) bool { return w == 1 })
			add("create-files", "", "folder", d, shared, c.WriteOps)
			add("create-files", "", "spaces", d, shared, c.WriteOps)
		} else {
			add("create-files", "", "space", d, pick(c.Workers, 1, 8), c.WriteOps)
		}
	}
	for _, d := range c.Durabilities {
		ws := pick(c.Workers, 1)
		if d == primary {
			ws = pick(c.Workers, 1, 8)
		}
		add("create-folders", "", "space", d, ws, c.WriteOps)
		add("rename", "", "folder", d, ws, c.WriteOps)
		add("move", "", "folder", d, pick(c.Workers, 1), c.WriteOps)
		add("delete", "files", "folder", d, pick(c.Workers, 1), c.WriteOps)
		if d == primary {
			add("delete", "folders", "folder", d, pick(c.Workers, 1), c.WriteOps)
		}
		add("upload-small", "", "folder", d, pick(c.Workers, 1, 8), c.WriteOps)
	}
	add("mixed", "", "space", primary, c.Workers, c.MixedOps)
	if slices.Contains(c.Modes, "relaxed") && c.wants("mixed") {
		w := pick(c.Workers, 8)[0]
		out = append(out, Case{Workload: "mixed", Dataset: n, Workers: w, Placement: "space", Durability: primary,
			Mode: "relaxed", Ops: roundUp(c.MixedOps, w)})
	}
	return out
}

func (c Config) burstCases(n int) []Case {
	if !c.wants("upload-burst") || len(c.BurstAt) == 0 || len(c.Durabilities) == 0 {
		return nil
	}
	var out []Case
	for _, at := range c.BurstAt {
		out = append(out, Case{Workload: "upload-burst", Dataset: n, Workers: c.BurstWorkers, Placement: "folder",
			Durability: c.Durabilities[0], Mode: "strict", Children: at, Ops: c.BurstWindow})
	}
	if c.wants("list") {
		out = append(out, c.listCases(n, c.BurstAt[len(c.BurstAt)-1], "burst")...)
	}
	return out
}

// count formats a count the way the report writes sizes: 1e4 as 10k.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
