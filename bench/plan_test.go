package bench

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlansAreWellFormed(t *testing.T) {
	for name, cfg := range map[string]Config{"full": DefaultConfig(), "quick": QuickConfig()} {
		t.Run(name, func(t *testing.T) {
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			phases := cfg.Plan()
			if len(phases) != len(cfg.Sizes) {
				t.Fatalf("%d phases for %d sizes", len(phases), len(cfg.Sizes))
			}
			seen := map[string]bool{}
			workloads := map[string]bool{}
			for i, ph := range phases {
				if ph.Dataset != cfg.Sizes[i] {
					t.Errorf("phase %d at %d nodes, want %d", i, ph.Dataset, cfg.Sizes[i])
				}
				for _, c := range ph.Cases {
					slug := c.Slug()
					if seen[slug] {
						t.Errorf("case %s twice", slug)
					}
					seen[slug] = true
					workloads[c.Workload] = true
					// Workloads that give each worker Ops/Workers need a
					// multiple; the others deal operations round-robin.
					perWorker := c.Workload == "create-files" || c.Workload == "create-folders" || c.Workload == "upload-small" || c.Workload == "mixed"
					if c.Ops < 1 || (perWorker && c.Ops%c.Workers != 0) {
						t.Errorf("%s: %d ops for %d workers", slug, c.Ops, c.Workers)
					}
					if c.writes() && i != len(phases)-1 {
						t.Errorf("%s: a write before the last phase", slug)
					}
					if strings.ContainsAny(slug, "/ ") || len(slug) > 200 {
						t.Errorf("slug %q is not a usable name", slug)
					}
				}
			}
			for _, w := range Workloads {
				if !workloads[w] {
					t.Errorf("no case of workload %s", w)
				}
			}
			if totalUnits(cfg) <= len(seen) {
				t.Errorf("total units %d for %d cases", totalUnits(cfg), len(seen))
			}
		})
	}
}

func TestPlanHasTheTargetsCases(t *testing.T) {
	cfg := DefaultConfig()
	var all []Case
	for _, ph := range cfg.Plan() {
		all = append(all, ph.Cases...)
	}
	has := func(what string, match func(Case) bool) {
		if !slices.ContainsFunc(all, match) {
			t.Errorf("the full plan lacks %s", what)
		}
	}
	has("hot stat by id at 10^5", func(c Case) bool {
		return c.Workload == "stat-id" && c.Cache == "hot" && c.Mode == "strict" && c.Workers == 1 && c.Dataset == 100_000
	})
	has("a hot listing of 1 000", func(c Case) bool { return c.Workload == "list" && c.Children == 1000 && c.Cache == "hot" })
	has("8 durable writers in one space", func(c Case) bool {
		return c.Workload == "create-files" && c.Durability == Fsync && c.Placement == "space" && c.Workers == 8
	})
	for _, n := range []int{1000, 10_000, 100_000} {
		has("the burst at "+count(n), func(c Case) bool { return c.Workload == "upload-burst" && c.Children == n })
	}
	has("a listing of the burst folder", func(c Case) bool { return c.Workload == "list" && c.Variant == "burst" && c.Children == 100_000 })
	for _, w := range []int{1, 2, 4, 8, 16, 32, 64} {
		has("creates at every concurrency", func(c Case) bool { return c.Workload == "create-files" && c.Workers == w })
		has("the mixed workload at every concurrency", func(c Case) bool { return c.Workload == "mixed" && c.Workers == w })
	}
	for _, pl := range []string{"folder", "space", "spaces"} {
		has("writers placed in "+pl, func(c Case) bool { return c.Placement == pl })
	}
}

func TestPlanFilters(t *testing.T) {
	cfg := QuickConfig()
	cfg.Workloads = []string{"stat-id"}
	cfg.Caches = []string{"cold"}
	for _, ph := range cfg.Plan() {
		for _, c := range ph.Cases {
			if c.Workload != "stat-id" || c.Cache != "cold" {
				t.Errorf("filtered plan has %s", c)
			}
		}
	}
	if cfg.usesBlobs() {
		t.Error("stat-id needs no blob store")
	}
}

func TestValidateRejects(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"unknown backend":   func(c *Config) { c.Backends = []string{"mpk", "oracle"} },
		"backend twice":     func(c *Config) { c.Backends = []string{"mpk", "mpk"} },
		"no fs":             func(c *Config) { c.FS = nil },
		"sizes unsorted":    func(c *Config) { c.Sizes = []int{100, 10} },
		"zero workers":      func(c *Config) { c.Workers = []int{0, 1} },
		"too many workers":  func(c *Config) { c.Workers = []int{1, 128} },
		"unknown workload":  func(c *Config) { c.Workloads = []string{"compile"} },
		"bad durability":    func(c *Config) { c.Durabilities = []Durability{"sometimes"} },
		"bad cache state":   func(c *Config) { c.Caches = []string{"lukewarm"} },
		"bad mode":          func(c *Config) { c.Modes = []string{"lax"} },
		"no reps":           func(c *Config) { c.Reps = 0 },
		"burst window wide": func(c *Config) { c.BurstWindow = c.BurstAt[0] + 1 },
		"burst sizes close": func(c *Config) { c.BurstAt = []int{100, 120} },
		"bad blobs":         func(c *Config) { c.Blobs = "tape" },
		"out without name":  func(c *Config) { c.Out, c.Name = "/tmp/x", "" },
	} {
		c := QuickConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := ParseInts("1e4, 100_000,7")
	if err != nil || !slices.Equal(got, []int{10_000, 100_000, 7}) {
		t.Errorf("ParseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"x", "1.5", "1e4x"} {
		if _, err := ParseInts(bad); err == nil {
			t.Errorf("ParseInts(%q) accepted", bad)
		}
	}
}

// TestCheckInodes: a run that cannot fit in the filesystem's free inodes
// fails before it starts, naming the filesystem and the shortfall; one
// that fits passes.
func TestCheckInodes(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Files == 0 {
		t.Fatalf("%s reports no inode limit; this test needs a filesystem with one (ext4, tmpfs)", dir)
	}
	cfg := Config{Backends: []string{"mpk", "xattr", "postgres"}, Sizes: []int{int(st.Ffree)}, BurstAt: []int{1000}}
	err := checkInodes(cfg, dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "free inodes") {
		t.Fatalf("a run needing %d inodes on %d free: %v", 4*(st.Ffree+1000), st.Ffree, err)
	}
	cfg.Sizes = []int{1000}
	if err := checkInodes(cfg, dir); err != nil {
		t.Fatalf("a small run: %v", err)
	}
}
