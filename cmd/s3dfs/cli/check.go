package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata"
)

// checkConfig is the configuration of `s3dfs check`.
type checkConfig struct {
	store         storeConfig
	json          bool
	path          string
	phases        string
	repair        bool
	applyFrom     string
	report        string
	grace         time.Duration
	pendingGrace  time.Duration
	settle        time.Duration
	workers       int
	listConc      int
	rate          float64
	tmpDir        string
	sortMemory    byteSize
	quarantine    string
	progress      choice
	olderThan     time.Duration
	purgeDryRunOK bool
	force         bool
	guardShare    percent
	guardMin      int64
}

// checkExit gives an error of the check command its exit code: 3, the
// check could not finish (codes 1 and 2 mean warnings and errors found).
func checkExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if errors.Is(ee.err, errReported) {
			return err // a result: warnings, errors, incomplete
		}
		return &exitError{code: check.ExitIncomplete, err: ee.err}
	}
	return &exitError{code: check.ExitIncomplete, err: err}
}

// checkArgs is args for the check commands: a wrong command line exits 3
// there, since 2 means errors found.
func checkArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, argv []string) error { return checkExit(args(min, max)(cmd, argv)) }
}

// resultExit ends a check that ran with its exit code, without a message.
func resultExit(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code, err: errReported}
}

func (a *app) checkCommand() *cobra.Command {
	c := &checkConfig{}
	cmd := &cobra.Command{
		Use:   "check --root DIR [--json] [--space SPACE] [--path PATH] [--phases LIST] [--repair | --apply-from REPORT]",
		Short: "Find (and repair) inconsistencies between the tree, the metadata and the blobs",
		Long: `Check a store for inconsistencies: records that cannot be read, links that
disagree with their records, parent chains that are broken or cyclic, tree
sizes that drifted, blobs that are missing, of the wrong size or referenced
by nothing, leftovers of crashed operations (temp files, half-created nodes,
interrupted trash, moves and uploads), stale upload sessions and quota
reservations. 's3dfs check codes' lists every finding code.

The check is safe on a live system: it takes its cutoff before reading
anything, never calls a blob younger than --grace (or one a live upload owns)
an orphan, and reports a suspicious value only if it stays unchanged for
--settle. It reads the node records directly, in bounded memory: what it
needs to sort goes through external sorts in --tmp-dir.

Phases (--phases, comma-separated; default all): nodes, tree, trash, blobs,
uploads, revisions. --space limits the check to one space (a project space
name or a space id), --path to a subtree of it (then unlinked records,
orphan blobs, the trash and uploads are not looked at).

Repair is opt-in and two-phase. --repair checks, writes the report to
<root>/check/runs/<run>/report.ndjson, then acts on it; --apply-from acts on
a report written before (a reviewed one: delete the lines of findings to
leave alone). Every repair re-verifies its finding under the store's locks
first and skips it if it no longer holds or if what it is about changed
since the check. Nothing is deleted: what leaves the store goes to the
run's quarantine (blobs under --quarantine-prefix, files to
<root>/check/runs/<run>/quarantine), from where 's3dfs check undo RUN' brings
it back and 's3dfs check purge-quarantine --older-than D' deletes it. After
a check that could not read everything, nothing leaves the store at all. One
repair at a time (a run lock). The last check's summary is kept in
<root>/check/last-summary.json.

A blast-radius guard stops a repair that would move more than --guard-share
(default 5%) of the nodes to lost+found, or quarantine more than that share of
the blobs, before it changes anything: crash leftovers are a small share of
any store, while a wrong or emptied bucket makes nearly every file's blob
"missing". The report stays; --force (with --repair or --apply-from) repairs
all the same.

Output: one line per finding and a summary; --json prints NDJSON instead:
{"type":"finding",...} lines, then {"type":"summary",...} with counts and
bytes per code and per space (where the bytes are: live, trash, lost,
uploads, orphans, missing). A progress bar goes to stderr when it is a
terminal.

Exit status: 0 nothing found (or everything repaired), 1 warnings only, 2
errors, 3 the check could not finish or could not read everything (and for a
wrong command line).

` + envHelp,
		Args: checkArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error { return checkExit(a.check(cmd, c)) },

		SuggestionsMinimumDistance: 2,
	}
	pf := cmd.PersistentFlags()
	c.store.addFlags(pf)
	c.store.space = ""
	sp := pf.Lookup("space")
	sp.DefValue = ""
	sp.Usage = "check one space only: a project space `NAME` or a space id (default: all spaces)"
	c.store.cacheBytes = 4 << 20
	def := check.DefaultOptions()
	c.progress = newChoice("auto", "auto", "always", "never")
	c.sortMemory = byteSize(def.SortMemory)
	f := cmd.Flags()
	f.BoolVar(&c.json, "json", false, "NDJSON output: one line per finding, a summary line last")
	f.StringVar(&c.path, "path", "", "check only the subtree at `PATH` of --space")
	f.StringVar(&c.phases, "phases", "", "check only these phases, comma-separated: nodes, tree, trash, blobs, uploads, revisions")
	f.BoolVar(&c.repair, "repair", false, "repair what the check finds (re-verified under locks, nothing deleted)")
	f.StringVar(&c.applyFrom, "apply-from", "", "repair the findings of `REPORT` (an NDJSON report of an earlier check) instead of checking")
	f.StringVar(&c.report, "report", "", "also write the NDJSON report to `FILE`")
	f.DurationVar(&c.grace, "grace", def.Grace, "blobs and temp files younger than this may belong to operations in flight")
	f.DurationVar(&c.pendingGrace, "pending-grace", def.PendingGrace, "prepared nodes and quota reservations of plain uploads younger than this may belong to uploads in flight")
	f.DurationVar(&c.settle, "settle", def.Settle, "a suspicious value must stay unchanged this long before it is reported")
	f.IntVar(&c.workers, "workers", def.Workers, "folders walked concurrently")
	f.IntVar(&c.listConc, "list-concurrency", def.ListConcurrency, "blob listings (by key prefix) in flight")
	f.Float64Var(&c.rate, "s3-rate", def.RequestRate, "blob store requests per second at most (0: no limit)")
	f.StringVar(&c.tmpDir, "tmp-dir", "", "`DIR` for the external sorts' run files (default $TMPDIR)")
	f.Var(&c.sortMemory, "sort-memory", "memory of each external sort before it spills to --tmp-dir")
	f.StringVar(&c.quarantine, "quarantine-prefix", check.DefaultQuarantinePrefix, "blob key `PREFIX` quarantined blobs go under")
	f.Var(&c.progress, "progress", "progress bar on stderr")
	c.guardShare = percent(check.DefaultLimit.Share)
	f.BoolVar(&c.force, "force", false, "repair even what the blast-radius guard stops (see --guard-share)")
	f.Var(&c.guardShare, "guard-share", "a repair that would move more than this share of the nodes to lost+found, or quarantine more than this share of the blobs, stops and asks for --force")
	f.Int64Var(&c.guardMin, "guard-min", check.DefaultLimit.Floor, "repairs of at most this many nodes and blobs pass the guard whatever the share")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: check.ExitIncomplete, err: fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	cmd.AddCommand(a.checkUndoCommand(c), a.checkPurgeCommand(c), a.checkLastCommand(c), a.checkCodesCommand())
	return cmd
}

// options turns the flags into check options.
func (c *checkConfig) options(a *app, cmd *cobra.Command) (check.Options, error) {
	o := check.DefaultOptions()
	if c.phases != "" {
		ps, err := check.ParsePhases(c.phases)
		if err != nil {
			return o, usageError(err)
		}
		o.Phases = ps
	}
	o.Path = c.path
	o.Grace, o.PendingGrace, o.Settle = c.grace, c.pendingGrace, c.settle
	o.Workers, o.ListConcurrency, o.RequestRate = c.workers, c.listConc, c.rate
	o.TempDir, o.SortMemory = c.tmpDir, int(c.sortMemory)
	return o, nil
}

// openCheck opens the stores for the check commands and resolves --space
// (without creating anything: a check only reads).
func (a *app) openCheck(cmd *cobra.Command, c *checkConfig) (*storage, string, error) {
	if _, err := c.store.resolve(cmd.Flags()); err != nil {
		return nil, "", err
	}
	space := ""
	if f := cmd.Flags().Lookup("space"); f != nil && f.Changed {
		space = c.store.space
	}
	st, err := c.store.open(cmd.Context(), cmd.Flags(), a.log)
	if err != nil {
		return nil, "", err
	}
	if space == "" {
		return st, "", nil
	}
	// An id, else the fs commands' project space of that name, else the
	// personal space of the user of that name (as 's3dfs fs --space'),
	// found on disk: a check must reach spaces whose records are broken.
	has := func(id string) bool { _, err := os.Lstat(st.meta.SpacePath(id)); return err == nil }
	id := strings.ToLower(space)
	if metadata.ValidateID(id) != nil {
		named, personal := decomposedfs.NamedSpaceID(space), decomposedfs.PersonalSpaceID(space)
		switch {
		case has(named) && has(personal):
			st.Close()
			return nil, "", fmt.Errorf("space %s is ambiguous: the project space %s and the personal space %s; use an id", space, named, personal)
		case has(personal):
			id = personal
		default:
			id = named
		}
	}
	if !has(id) {
		st.Close()
		return nil, "", fmt.Errorf("space %s: not found", space)
	}
	return st, id, nil
}

func (a *app) check(cmd *cobra.Command, c *checkConfig) error {
	if c.repair && c.applyFrom != "" {
		return usageErrorf("--repair and --apply-from exclude each other")
	}
	if c.path != "" && !cmd.Flags().Changed("space") {
		return usageErrorf("--path needs --space")
	}
	opts, err := c.options(a, cmd)
	if err != nil {
		return err
	}
	st, sid, err := a.openCheck(cmd, c)
	if err != nil {
		return err
	}
	defer st.Close()
	opts.Space = sid
	root := st.meta.Root()
	out := newCheckOutput(a, c.json)
	ctx := cmd.Context()

	var unlock func()
	var run string
	if c.repair || c.applyFrom != "" {
		if unlock, err = check.LockRuns(root); err != nil {
			return err
		}
		defer unlock()
		run = check.NewRunID(time.Now())
	}
	if c.applyFrom != "" {
		return a.applyReport(ctx, c, st, run, c.applyFrom, out)
	}

	// The report: the run's (for --repair), --report's, or none.
	var reports []io.Writer
	var files []*os.File
	closeAll := func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		files = nil
		return errors.Join(errs...)
	}
	defer closeAll()
	reportPath := ""
	if run != "" {
		reportPath = filepath.Join(check.RunDir(root, run), "report.ndjson")
		if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
			return err
		}
	}
	for _, p := range []string{reportPath, c.report} {
		if p == "" {
			continue
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		files = append(files, f)
		reports = append(reports, f)
	}
	rw := check.NewReportWriter(io.MultiWriter(reports...))

	bar := a.progressBar(c)
	opts.Progress = bar.update
	checker, err := check.New(st.meta, st.fs.Blobs(), opts)
	if err != nil {
		return usageError(err)
	}
	sum, err := checker.Run(ctx, func(f *check.Finding) error {
		bar.clear()
		if len(reports) > 0 {
			if err := rw.Finding(f); err != nil {
				return err
			}
		}
		return out.finding(f)
	})
	bar.finish()
	sum.Run = run
	if len(reports) > 0 {
		if werr := rw.Summary(sum); werr != nil && err == nil {
			err = werr
		}
	}
	if cerr := closeAll(); cerr != nil && err == nil {
		err = cerr
	}
	if serr := check.SaveLastSummary(root, sum); serr != nil {
		a.log.Warn("could not keep the summary", "err", serr)
	}
	if perr := out.summary(sum, reportPath); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if run == "" {
		return resultExit(sum.ExitCode())
	}
	return a.applyReport(ctx, c, st, run, reportPath, out)
}

// applyReport repairs the findings of a report.
func (a *app) applyReport(ctx context.Context, c *checkConfig, st *storage, run, report string, out *checkOutput) error {
	root := st.meta.Root()
	dir := check.RunDir(root, run)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if abs, _ := filepath.Abs(report); abs != filepath.Join(dir, "report.ndjson") {
		// Keep what the run acted on with the run.
		data, err := os.ReadFile(report)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "report.ndjson"), data, 0o644); err != nil {
			return err
		}
	}
	logf, err := os.Create(filepath.Join(dir, "repairs.ndjson"))
	if err != nil {
		return err
	}
	defer logf.Close()
	log := check.NewReportWriter(logf)
	var phases []check.Phase
	if c.phases != "" {
		phases, _ = check.ParsePhases(c.phases)
	}
	if c.guardMin < 0 {
		return usageErrorf("--guard-min must not be negative")
	}
	limit := check.Limit{Share: float64(c.guardShare), Floor: c.guardMin}
	rp, err := check.NewRepairer(st.meta, st.fs.Blobs(), check.RepairOptions{
		Run: run, QuarantinePrefix: c.quarantine, Phases: phases, Limit: &limit, Force: c.force,
		Outcome: func(o *check.Outcome) {
			log.Line(o)
			out.outcome(o)
		},
	})
	if err != nil {
		return usageError(err)
	}
	rs, err := rp.Apply(ctx, report)
	if errors.Is(err, check.ErrTooLarge) {
		return fmt.Errorf("%w. The report is %s: review it, then repair with --force if that is really wanted ('s3dfs check --apply-from REPORT --force')", err, filepath.Join(dir, "report.ndjson"))
	}
	if rs != nil {
		log.Line(rs)
		if werr := check.SaveJSON(filepath.Join(dir, "summary.json"), rs); werr != nil {
			a.log.Warn("could not keep the repair summary", "err", werr)
		}
		if werr := check.SaveJSON(filepath.Join(check.CheckDir(root), "last-repair.json"), rs); werr != nil {
			a.log.Warn("could not keep the repair summary", "err", werr)
		}
		if perr := out.repairSummary(rs); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if !rs.CheckComplete {
		return resultExit(check.ExitIncomplete)
	}
	return resultExit(rs.ExitCode())
}

func (a *app) checkUndoCommand(c *checkConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "undo RUN",
		Short: "Bring back what a repair run took out of the store",
		Long: `Bring back what repair run RUN took out of the store or out of its place,
newest first: blobs from the quarantine prefix, metadata files from
<root>/check/runs/RUN/quarantine, files and folders it moved to lost+found
back to where they were (files whose blob was missing get their blob id, size
and checksums back), and the lost+found folders it made are removed once
empty. Nothing is overwritten: what is in the way again (a name taken, a
folder gone) is reported on a "NOT restored" line and left. Records the run
rebuilt keep their new version (the old one stays in the run's quarantine),
and recomputed tree sizes stay. Exit status 0 when everything was restored,
3 if anything was not, or undo could not finish.`,
		Args: checkArgs(1, 1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return checkExit(func() error {
				if !check.ValidRunID(argv[0]) {
					return usageErrorf("%q is not a run id (like 20261125T161341Z-1a2b3c)", argv[0])
				}
				st, _, err := a.openCheck(cmd, c)
				if err != nil {
					return err
				}
				defer st.Close()
				unlock, err := check.LockRuns(st.meta.Root())
				if err != nil {
					return err
				}
				defer unlock()
				us, err := check.Undo(cmd.Context(), st.meta, st.fs.Blobs(), argv[0])
				if us != nil {
					fmt.Fprintf(a.stdout, "restored %d item(s) of run %s\n", us.Restored, argv[0])
					if us.Removed > 0 {
						fmt.Fprintf(a.stdout, "removed %d empty folder(s) the run made in lost+found\n", us.Removed)
					}
					for _, k := range us.Conflicts {
						fmt.Fprintf(a.stdout, "NOT restored: %s\n", k)
					}
					for _, k := range us.Kept {
						fmt.Fprintf(a.stdout, "kept (a replaced record's old version): %s\n", k)
					}
				}
				return err
			}())
		},
	}
}

func (a *app) checkPurgeCommand(c *checkConfig) *cobra.Command {
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "purge-quarantine --older-than DURATION",
		Short: "Delete for good what repair runs older than DURATION quarantined",
		Long: `Delete the quarantined blobs and files of repair runs older than DURATION (by
their run ids' times, e.g. 720h). The runs' reports and manifests stay;
undo of a purged run is no longer possible. Exit status 0 on success, 3 if
the purge could not finish.`,
		Args: checkArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkExit(func() error {
				if !cmd.Flags().Changed("older-than") {
					return usageErrorf("--older-than is required (e.g. --older-than 720h)")
				}
				if olderThan < 0 {
					return usageErrorf("--older-than must not be negative")
				}
				st, _, err := a.openCheck(cmd, c)
				if err != nil {
					return err
				}
				defer st.Close()
				unlock, err := check.LockRuns(st.meta.Root())
				if err != nil {
					return err
				}
				defer unlock()
				ps, err := check.PurgeQuarantine(cmd.Context(), st.meta, st.fs.Blobs(), c.quarantine, olderThan, time.Now())
				if ps != nil {
					fmt.Fprintf(a.stdout, "purged %d run(s), %d blob(s), %s\n", len(ps.Runs), ps.Blobs, sizeText(ps.Bytes))
				}
				return err
			}())
		},
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "purge runs older than this `DURATION`")
	cmd.Flags().StringVar(&c.quarantine, "quarantine-prefix", check.DefaultQuarantinePrefix, "blob key `PREFIX` of the quarantine")
	return cmd
}

func (a *app) checkLastCommand(c *checkConfig) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "last",
		Short: "Print the summary of the last check (for monitoring)",
		Long: `Print the summary of the last check of the store at --root, and exit with the
exit status that check had.`,
		Args: checkArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := c.store.resolve(cmd.Flags()); err != nil {
				return checkExit(err)
			}
			sum, err := check.LastSummary(c.store.root)
			if err != nil {
				return checkExit(fmt.Errorf("no summary of a check at %s: %w", c.store.root, err))
			}
			out := newCheckOutput(a, asJSON)
			if err := out.summary(sum, ""); err != nil {
				return checkExit(err)
			}
			return resultExit(sum.ExitCode())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func (a *app) checkCodesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "codes",
		Short: "List the finding codes, their severities and remedies",
		Args:  checkArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, cl := range check.Classes() {
				rs := make([]string, len(cl.Remedies))
				for i, r := range cl.Remedies {
					rs[i] = string(r)
				}
				fmt.Fprintf(a.stdout, "%-20s %-7s %-9s %s\n%-38s remedy: %s\n", cl.Code, cl.Severity, cl.Phase, cl.Title, "", strings.Join(rs, " or "))
			}
			return nil
		},
	}
}
