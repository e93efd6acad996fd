package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config configures a run. Start from DefaultConfig or QuickConfig.
type Config struct {
	// Backends to compare, by registry name; the first is the reference
	// that ratios are given against.
	Backends []string `json:"backends"`
	// FS are directories on the filesystems to measure; a run makes its
	// own directory below each and removes it at the end.
	FS []string `json:"fs"`
	// Sizes are the dataset sizes (nodes in the data space) the read
	// workloads run at, ascending; write workloads run at the largest.
	Sizes []int `json:"sizes"`
	// Workers is the concurrency sweep of the create and mixed workloads.
	Workers []int `json:"workers"`
	// ReadWorkers are the concurrencies of hot stat by id.
	ReadWorkers []int `json:"read_workers"`
	// Reps is how often each measurement is repeated.
	Reps int   `json:"reps"`
	Seed int64 `json:"seed"`
	// Workloads selects workloads by name (empty: all, see Workloads).
	Workloads []string `json:"workloads,omitempty"`
	// Durabilities of the write workloads.
	Durabilities []Durability `json:"durabilities"`
	// Caches are the cache states of the read workloads: "hot", "cold".
	Caches []string `json:"caches"`
	// Modes are the cache modes: "strict", "relaxed".
	Modes []string `json:"modes"`
	// Depths of stat by path.
	Depths []int `json:"depths"`
	// ListSizes are the children counts of the listed fixture folders.
	ListSizes []int `json:"list_sizes"`
	// Chains is how many folder chains stat by path uses.
	Chains int `json:"chains"`
	// BurstAt are the folder sizes at which the upload burst is measured;
	// the burst stops at the last. BurstWindow uploads are measured at
	// each (split over the repetitions), with BurstWorkers uploading.
	BurstAt      []int `json:"burst_at"`
	BurstWindow  int   `json:"burst_window"`
	BurstWorkers int   `json:"burst_workers"`
	// Operations per repetition: writes, mixed, hot reads (which may stop
	// at HotBudget), cold reads of stat by id.
	WriteOps  int           `json:"write_ops"`
	MixedOps  int           `json:"mixed_ops"`
	HotOps    int           `json:"hot_ops"`
	HotBudget time.Duration `json:"hot_budget"`
	HotSet    int           `json:"hot_set"`
	ColdOps   int           `json:"cold_ops"`
	// Blobs is where content goes: "s3" or "posix".
	Blobs string `json:"blobs"`
	// User owns the spaces and makes every request; empty runs without a
	// user (no permission checks), as a system process would.
	User string `json:"user"`
	// CacheBytes bounds each backend's caches and, a quarter of it, the
	// driver's path caches.
	CacheBytes int64         `json:"cache_bytes"`
	MaxStale   time.Duration `json:"max_stale"`

	// PostgresDSN, if set, names an empty database (or schema, through
	// search_path) of an existing server; otherwise each filesystem gets a
	// server of its own, started with PostgresScript.
	PostgresDSN    string `json:"-"`
	PostgresScript string `json:"-"`
	// S3, if Endpoint is set, is an existing S3 server; otherwise each
	// filesystem gets a versitygw of its own.
	S3 S3Server `json:"-"`

	// Out, if set, is the directory the report files go to, named
	// Name.md, .csv, .json and Name-*.png.
	Out  string `json:"-"`
	Name string `json:"-"`
	// Keep leaves the run directories (stores, logs) in place.
	Keep bool `json:"-"`
	// Quick marks a smoke run (for the report's title).
	Quick bool `json:"quick"`
	// WorkerCommand runs a worker process (this program, in worker mode:
	// see WorkerEnv). Empty: the executable itself, no arguments.
	WorkerCommand []string `json:"-"`
	// Progress, if not nil, receives progress bars (a terminal).
	Progress io.Writer `json:"-"`
	// Log, if not nil, receives a line per step.
	Log io.Writer `json:"-"`
	// CommandLine is stamped on the report (default: os.Args).
	CommandLine []string `json:"-"`
}

// S3Server is an existing S3 server.
type S3Server struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	UseTLS    bool
}

// Workloads are the workload names, in plan order.
var Workloads = []string{
	"stat-id", "stat-path", "list",
	"create-files", "create-folders", "rename", "move", "delete", "upload-small", "mixed",
	"upload-burst",
}

// DefaultConfig is the full run: /tmp and /dev/shm, datasets of 10^4 and
// 10^5 nodes, 1 to 64 workers, five repetitions of short measurements.
func DefaultConfig() Config {
	return Config{
		Backends:     Backends(),
		FS:           []string{"/tmp", "/dev/shm"},
		Sizes:        []int{10_000, 100_000},
		Workers:      []int{1, 2, 4, 8, 16, 32, 64},
		ReadWorkers:  []int{1, 8},
		Reps:         5,
		Seed:         1,
		Durabilities: []Durability{Fsync, NoSync},
		Caches:       []string{"hot", "cold"},
		Modes:        []string{"strict", "relaxed"},
		Depths:       []int{1, 2, 5, 10, 20, 50},
		ListSizes:    []int{10, 100, 1000, 10_000},
		Chains:       32,
		BurstAt:      []int{1000, 10_000, 100_000},
		BurstWindow:  500,
		BurstWorkers: 8,
		WriteOps:     256,
		MixedOps:     1024,
		HotOps:       20_000,
		HotBudget:    300 * time.Millisecond,
		HotSet:       10_000,
		ColdOps:      1000,
		Blobs:        "s3",
		User:         "bench",
		CacheBytes:   256 << 20,
		MaxStale:     time.Second,
		Name:         time.Now().UTC().Format("2006-01-02") + "-metadata-backends",
	}
}

// QuickConfig is the smoke run of `make test`: every workload on a small
// dataset, one repetition, both filesystems. It is about correctness
// (errors, the cross-check), not figures.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Quick = true
	c.Sizes = []int{300}
	c.Workers = []int{1, 8}
	c.ReadWorkers = []int{1}
	c.Reps = 1
	c.Depths = []int{1, 50}
	c.ListSizes = []int{10, 100}
	c.Chains = 2
	c.BurstAt = []int{100, 200}
	c.BurstWindow = 40
	c.BurstWorkers = 4
	c.WriteOps = 16
	c.MixedOps = 64
	c.HotOps = 300
	c.HotBudget = 10 * time.Millisecond
	c.HotSet = 100
	c.ColdOps = 50
	c.Name = time.Now().UTC().Format("2006-01-02") + "-metadata-backends-quick"
	return c
}

// Validate rejects unusable settings with a message that names the flag's
// idea; it never adjusts a value.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("bench: "+format, args...)) }
	if len(c.Backends) == 0 {
		bad("no backends selected")
	}
	seen := map[string]bool{}
	for _, b := range c.Backends {
		if _, ok := lookupBackend(b); !ok {
			errs = append(errs, unknownBackend(b))
		}
		if seen[b] {
			bad("backend %q selected twice", b)
		}
		seen[b] = true
	}
	if len(c.FS) == 0 {
		bad("no filesystems (--fs) selected")
	}
	positive := func(what string, xs []int) {
		for _, x := range xs {
			if x <= 0 {
				bad("%s must be positive, got %d", what, x)
			}
		}
		if !slices.IsSorted(xs) {
			bad("%s must be ascending: %v", what, xs)
		}
	}
	if len(c.Sizes) == 0 {
		bad("no dataset sizes")
	}
	positive("dataset sizes", c.Sizes)
	positive("workers", c.Workers)
	positive("read workers", c.ReadWorkers)
	positive("depths", c.Depths)
	positive("list sizes", c.ListSizes)
	positive("burst sizes", c.BurstAt)
	if slices.ContainsFunc(c.Workers, func(w int) bool { return w > 64 }) || slices.ContainsFunc(c.ReadWorkers, func(w int) bool { return w > 64 }) {
		bad("at most 64 workers")
	}
	if len(c.Depths) > 0 && c.Depths[len(c.Depths)-1] > 200 {
		bad("depths above 200 are not supported")
	}
	for _, w := range c.Workloads {
		if !slices.Contains(Workloads, w) {
			bad("unknown workload %q (known: %s)", w, strings.Join(Workloads, ", "))
		}
	}
	for _, d := range c.Durabilities {
		if _, err := ParseDurability(string(d)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range c.Caches {
		if s != "hot" && s != "cold" {
			bad("unknown cache state %q (want hot or cold)", s)
		}
	}
	for _, m := range c.Modes {
		if m != "strict" && m != "relaxed" {
			bad("unknown cache mode %q (want strict or relaxed)", m)
		}
	}
	switch {
	case c.Reps < 1:
		bad("reps must be at least 1")
	case c.Chains < 1:
		bad("chains must be at least 1")
	case c.WriteOps < 1 || c.MixedOps < 1 || c.HotOps < 1 || c.ColdOps < 1 || c.HotSet < 1:
		bad("operation counts must be positive")
	case c.HotBudget < 0:
		bad("hot budget must not be negative")
	case c.BurstWorkers < 1 || c.BurstWorkers > 64:
		bad("burst workers must be 1 to 64")
	case c.CacheBytes < 0:
		bad("cache bytes must not be negative")
	case c.MaxStale <= 0:
		bad("max stale must be positive")
	}
	if len(c.BurstAt) > 0 {
		if c.BurstWindow < c.Reps || c.BurstWindow > c.BurstAt[0] {
			bad("burst window %d must be at least the repetitions (%d) and at most the first burst size (%d)", c.BurstWindow, c.Reps, c.BurstAt[0])
		}
		for i := 1; i < len(c.BurstAt); i++ {
			if c.BurstAt[i]-c.BurstAt[i-1] < c.BurstWindow {
				bad("burst sizes %d and %d are closer than the window %d", c.BurstAt[i-1], c.BurstAt[i], c.BurstWindow)
			}
		}
	}
	if c.Blobs != "s3" && c.Blobs != "posix" {
		bad("unknown blob store %q (want s3 or posix)", c.Blobs)
	}
	if c.Out != "" && c.Name == "" {
		bad("a report name is needed with an output directory")
	}
	return errors.Join(errs...)
}

// ParseInts parses a comma-separated list of counts; each may be written
// as 1e5, 100000 or 100_000.
func ParseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			v, ferr := strconv.ParseFloat(f, 64)
			if ferr != nil || v != float64(int(v)) {
				return nil, fmt.Errorf("bench: %q is not a count", f)
			}
			n = int(v)
		}
		out = append(out, n)
	}
	return out, nil
}

func (c Config) wants(workload string) bool {
	return len(c.Workloads) == 0 || slices.Contains(c.Workloads, workload)
}

func (c Config) usesBlobs() bool {
	return c.wants("upload-small") || c.wants("mixed") || (c.wants("upload-burst") && len(c.BurstAt) > 0)
}
