package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/s3dfs/s3dfs/bench"
)

// benchFlags are the command-line settings of `s3dfs bench`; a flag that
// is not given keeps the value of the profile (--quick or the full run).
type benchFlags struct {
	quick                              bool
	backends, fs, workloads            string
	sizes, workers, depths, listSizes  string
	burst                              string
	durability, caches, modes          string
	reps, burstWindow, burstWorkers    int
	writeOps, mixedOps, hotOps, chains int
	seed                               int64
	blobs                              choice
	user                               string
	cacheBytes                         byteSize
	pgDSN, pgScript                    string
	s3Endpoint, s3Access, s3Secret     string
	s3Region                           string
	s3TLS                              bool
	out, name                          string
	keep, verbose                      bool
	progress                           choice
}

func (a *app) benchCommand() *cobra.Command {
	f := &benchFlags{blobs: newChoice("s3", "s3", "posix"), progress: newChoice("auto", "auto", "always", "never")}
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--backends LIST] [--fs DIRS] [--out DIR] [flags]",
		Short: "Compare metadata backends (file-based and DB-backed) on the same workloads",
		Long: `Run the same seeded workloads through the driver on each metadata backend,
side by side, and report ops/s, latency percentiles, allocations and peak
RSS per workload as Markdown, CSV and JSON, with PNG charts (--out).

Backends: ` + strings.Join(bench.Backends(), ", ") + `. Each runs in a worker process of its own.
For every directory of --fs (by default /tmp and /dev/shm: the disk and
tmpfs) the run makes a directory there holding every store, the
PostgreSQL data directory (a server started with scripts/start-postgres.sh,
unless --pg-dsn or S3DFS_PG_DSN names an empty database) and the versitygw
data (unless --s3-endpoint or S3DFS_S3_ENDPOINT names a server), and
removes it at the end (--keep leaves it).

Workloads: ` + strings.Join(bench.Workloads, ", ") + `.
Reads run at every dataset size (--sizes), hot and cold, strict and
relaxed; writes at the largest size, at both durabilities (fsync: mpk's
flushes, synchronous_commit=on, SQLite synchronous=FULL; none: no flushes,
synchronous_commit=off, synchronous=NORMAL) and 1 to 64 workers.

After every write workload the backends' trees must agree (listings,
sizes, tree sizes), or the run fails with a diff: --quick, a small dataset
in well under a minute, is the smoke test of make test.

Exit status: 0 done, 1 a backend failed or the trees disagreed, 2 the
command line was wrong.`,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error { return a.runBench(cmd, f) }),
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.quick, "quick", false, "smoke run: every workload on a small dataset, one repetition")
	fl.StringVar(&f.backends, "backends", strings.Join(bench.Backends(), ","), "backends to compare; the first is the reference of ratios")
	fl.StringVar(&f.fs, "fs", "/tmp,/dev/shm", "directories on the filesystems to measure, comma-separated")
	fl.StringVar(&f.workloads, "workloads", "", "workloads to run, comma-separated (default all)")
	fl.StringVar(&f.sizes, "sizes", "1e4,1e5", "dataset sizes in nodes, ascending (1e6 works, slowly)")
	fl.StringVar(&f.workers, "workers", "1,2,4,8,16,32,64", "concurrency sweep of creates and the mixed workload")
	fl.StringVar(&f.depths, "depths", "1,2,5,10,20,50", "depths of stat by path")
	fl.StringVar(&f.listSizes, "list-sizes", "10,100,1000,10000", "children of the listed folders (the burst folder is listed too)")
	fl.StringVar(&f.burst, "burst", "1e3,1e4,1e5", "folder sizes at which the upload burst is measured; it stops at the last")
	fl.IntVar(&f.burstWindow, "burst-window", 500, "uploads measured at each burst size")
	fl.IntVar(&f.burstWorkers, "burst-workers", 8, "concurrent uploads of the burst")
	fl.StringVar(&f.durability, "durability", "fsync,none", "durabilities of the writes (the first gets the full sweep)")
	fl.StringVar(&f.caches, "cache", "hot,cold", "cache states of the reads")
	fl.StringVar(&f.modes, "modes", "strict,relaxed", "cache modes of the reads")
	fl.IntVar(&f.reps, "reps", 5, "repetitions of each measurement (medians are reported)")
	fl.IntVar(&f.writeOps, "write-ops", 256, "operations per repetition of a write workload")
	fl.IntVar(&f.mixedOps, "mixed-ops", 1024, "operations per repetition of the mixed workload")
	fl.IntVar(&f.hotOps, "hot-ops", 20000, "operations per repetition of a hot read (it may stop after 300ms)")
	fl.IntVar(&f.chains, "chains", 32, "folder chains of stat by path (and the most fixture folders listed per size)")
	fl.Int64Var(&f.seed, "seed", 1, "seed of every workload: names, sizes, picks")
	fl.Var(&f.blobs, "blobs", "blob store of the uploads: s3 (versitygw, or --s3-endpoint) or posix (a directory next to the store)")
	fl.StringVar(&f.user, "user", "bench", "user that owns the spaces and makes the requests (empty: no user, no permission checks)")
	fl.Var(&f.cacheBytes, "cache-bytes", "cache memory of each backend (the driver's path caches get a quarter more)")
	fl.StringVar(&f.pgDSN, "pg-dsn", os.Getenv("S3DFS_PG_DSN"), "an empty PostgreSQL database to use instead of starting a server (env S3DFS_PG_DSN)")
	fl.StringVar(&f.pgScript, "pg-script", "", "scripts/start-postgres.sh (default: found from the working directory)")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", os.Getenv("S3DFS_S3_ENDPOINT"), "an S3 server to use instead of starting versitygw (env S3DFS_S3_ENDPOINT)")
	fl.StringVar(&f.s3Access, "s3-access-key", os.Getenv("S3DFS_S3_ACCESS_KEY"), "(env S3DFS_S3_ACCESS_KEY)")
	fl.StringVar(&f.s3Secret, "s3-secret-key", os.Getenv("S3DFS_S3_SECRET_KEY"), "(env S3DFS_S3_SECRET_KEY)")
	fl.StringVar(&f.s3Region, "s3-region", os.Getenv("S3DFS_S3_REGION"), "(env S3DFS_S3_REGION)")
	fl.BoolVar(&f.s3TLS, "s3-tls", os.Getenv("S3DFS_S3_TLS") == "1", "use https for --s3-endpoint (env S3DFS_S3_TLS=1)")
	fl.StringVar(&f.out, "out", "", "directory to write the report to (NAME.md, .csv, .json, NAME-*.png)")
	fl.StringVar(&f.name, "name", "", "report file name (default DATE-metadata-backends[-quick])")
	fl.BoolVar(&f.keep, "keep", false, "keep the run directories (stores, worker logs)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log each step on stderr")
	fl.Var(&f.progress, "progress", "progress bars on stderr: auto (when a terminal), always, never")
	cmd.AddCommand(&cobra.Command{
		Use:    "worker",
		Short:  "Serve a bench run as a backend's worker process (internal)",
		Hidden: true,
		Args:   args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return bench.ServeWorker(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		}),
	})
	return cmd
}

// benchConfig turns the flags into a configuration: the profile's values,
// overridden by the flags given.
func (f *benchFlags) config(fl *pflag.FlagSet) (bench.Config, error) {
	cfg := bench.DefaultConfig()
	if f.quick {
		cfg = bench.QuickConfig()
	}
	var errs []error
	list := func(name string, dst *[]string, src string) {
		if fl.Changed(name) {
			*dst = splitList(src)
		}
	}
	ints := func(name string, dst *[]int, src string) {
		if !fl.Changed(name) {
			return
		}
		v, err := bench.ParseInts(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
		*dst = v
	}
	num := func(name string, dst *int, v int) {
		if fl.Changed(name) {
			*dst = v
		}
	}
	list("backends", &cfg.Backends, f.backends)
	list("fs", &cfg.FS, f.fs)
	list("workloads", &cfg.Workloads, f.workloads)
	list("cache", &cfg.Caches, f.caches)
	list("modes", &cfg.Modes, f.modes)
	ints("sizes", &cfg.Sizes, f.sizes)
	ints("workers", &cfg.Workers, f.workers)
	ints("depths", &cfg.Depths, f.depths)
	ints("list-sizes", &cfg.ListSizes, f.listSizes)
	ints("burst", &cfg.BurstAt, f.burst)
	num("burst-window", &cfg.BurstWindow, f.burstWindow)
	num("burst-workers", &cfg.BurstWorkers, f.burstWorkers)
	num("reps", &cfg.Reps, f.reps)
	num("write-ops", &cfg.WriteOps, f.writeOps)
	num("mixed-ops", &cfg.MixedOps, f.mixedOps)
	num("hot-ops", &cfg.HotOps, f.hotOps)
	num("chains", &cfg.Chains, f.chains)
	if fl.Changed("durability") {
		cfg.Durabilities = nil
		for _, s := range splitList(f.durability) {
			d, err := bench.ParseDurability(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("--durability: %w", err))
			}
			cfg.Durabilities = append(cfg.Durabilities, d)
		}
	}
	if fl.Changed("seed") {
		cfg.Seed = f.seed
	}
	if fl.Changed("cache-bytes") {
		cfg.CacheBytes = int64(f.cacheBytes)
	}
	if fl.Changed("user") {
		cfg.User = f.user
	}
	cfg.Blobs = f.blobs.value
	cfg.PostgresDSN, cfg.PostgresScript = f.pgDSN, f.pgScript
	cfg.S3 = bench.S3Server{Endpoint: f.s3Endpoint, AccessKey: f.s3Access, SecretKey: f.s3Secret, Region: f.s3Region, UseTLS: f.s3TLS}
	cfg.Out, cfg.Keep = f.out, f.keep
	if f.name != "" {
		cfg.Name = f.name
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (a *app) runBench(cmd *cobra.Command, f *benchFlags) error {
	cfg, err := f.config(cmd.Flags())
	if err != nil {
		return usageError(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.WorkerCommand = []string{exe, "bench", "worker"}
	// The command line as parsed, so that the report says how to run it
	// again (secrets left out).
	cfg.CommandLine = []string{"s3dfs", "bench"}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		v := fl.Value.String()
		if fl.Name == "s3-secret-key" || fl.Name == "pg-dsn" {
			v = "…"
		}
		if fl.Value.Type() == "bool" {
			cfg.CommandLine = append(cfg.CommandLine, "--"+fl.Name)
			if v != "true" {
				cfg.CommandLine[len(cfg.CommandLine)-1] += "=" + v
			}
			return
		}
		cfg.CommandLine = append(cfg.CommandLine, "--"+fl.Name, v)
	})
	stderr := cmd.ErrOrStderr()
	if f.progress.value == "always" || (f.progress.value == "auto" && isTerminal(stderr)) {
		cfg.Progress = stderr
	}
	if f.verbose {
		cfg.Log = stderr
	}
	started := time.Now()
	rep, runErr := bench.Run(cmd.Context(), cfg)
	if rep != nil {
		printBenchSummary(cmd.OutOrStdout(), cfg, rep, time.Since(started))
	}
	return runErr
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printBenchSummary tells the outcome in a few lines: the checks, the
// targets, where the report went.
func printBenchSummary(w io.Writer, cfg bench.Config, rep *bench.Report, took time.Duration) {
	fmt.Fprintf(w, "s3dfs bench: %d results from %s on %s in %s; %d tree comparisons agreed\n",
		len(rep.Results), strings.Join(cfg.Backends, ", "), strings.Join(cfg.FS, ", "), took.Round(time.Second), len(rep.Checks))
	if cfg.Quick {
		fmt.Fprintln(w, "targets (a smoke run: too short for the figures to mean much):")
	} else {
		fmt.Fprintln(w, "targets:")
	}
	for _, v := range rep.Targets {
		fmt.Fprintf(w, "  %-12s %s on %s: %s\n", v.Status, v.Target, v.FS, v.Detail)
	}
	if cfg.Out != "" {
		fmt.Fprintf(w, "report: %s/%s.md (.csv, .json, charts)\n", strings.TrimSuffix(cfg.Out, "/"), cfg.Name)
	} else {
		fmt.Fprintln(w, "(give --out DIR for the full report: tables, CSV, JSON and charts)")
	}
}
