package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Stamp       Stamp     `json:"stamp"`
	Config      Config    `json:"config"`
	Filesystems []FSInfo  `json:"filesystems"`
	Results     []Result  `json:"results"`
	Checks      []Check   `json:"checks"`
	Targets     []Verdict `json:"targets"`
	// Error is why the run stopped early, if it did.
	Error string `json:"error,omitempty"`
}

// Check is one comparison of the backends' trees.
type Check struct {
	FS    string `json:"fs"`
	After string `json:"after"`
	Nodes int    `json:"nodes"`
}

// Run runs the benchmark as cfg says and returns its report; with
// cfg.Out it also writes it there (also after a failure, marked so). The
// error wraps ErrTreeMismatch when backends disagreed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Stamp: newStamp(cfg), Config: cfg}
	prog := newProgress(cfg, totalUnits(cfg))
	var runErr error
	for _, dir := range cfg.FS {
		if runErr = runFS(ctx, cfg, dir, rep, prog); runErr != nil {
			break
		}
	}
	prog.finish()
	rep.Stamp.Finished = time.Now().UTC()
	rep.Targets = evaluateTargets(rep)
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	if cfg.Out != "" {
		if err := rep.WriteFiles(cfg.Out, cfg.Name); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	return rep, runErr
}

// runFS runs the whole plan on one filesystem.
func runFS(ctx context.Context, cfg Config, dir string, rep *Report, prog *progress) (err error) {
	start := time.Now()
	prog.step("%s: setting up", dir)
	env, err := setupFS(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer func() {
		env.info.LoadAfter = loadAvg()
		env.info.Duration = time.Since(start).Round(time.Second).String()
		rep.Filesystems = append(rep.Filesystems, env.info)
		if terr := env.teardown(ctx, cfg.Keep); terr != nil && err == nil {
			err = terr
		}
	}()

	var ws []*workerProc
	defer func() {
		for _, w := range ws {
			w.stop()
		}
	}()
	for _, name := range cfg.Backends {
		be, _ := lookupBackend(name)
		w, err := startWorker(cfg, name, filepath.Join(env.dir, name+".log"))
		if err != nil {
			return err
		}
		ws = append(ws, w)
		spec := OpenSpec{Backend: name, Config: cfg, Blobs: cfg.Blobs,
			Store: StoreSpec{Dir: filepath.Join(env.dir, name), CacheBytes: cfg.CacheBytes, MaxStale: cfg.MaxStale}}
		if be.UsesPostgres {
			spec.Store.PostgresDSN = env.pgDSN
		}
		if err := os.MkdirAll(spec.Store.Dir, 0o755); err != nil {
			return err
		}
		if cfg.Blobs == "s3" && cfg.usesBlobs() {
			spec.S3, spec.Bucket = env.s3, env.bucket(name)
		} else {
			// No workload writes content, or it goes to a directory.
			spec.Blobs, spec.BlobDir = "posix", filepath.Join(env.dir, name, "blobs")
		}
		if _, err := w.call(ctx, request{Op: "open", Open: &spec}); err != nil {
			return fmt.Errorf("bench: %s on %s: %w", name, dir, err)
		}
	}

	for _, ph := range cfg.Plan() {
		prog.step("%s: building the dataset (%s nodes)", dir, count(ph.Dataset))
		if _, err := all(ctx, ws, request{Op: "populate", Size: ph.Dataset}); err != nil {
			return fmt.Errorf("bench: building the dataset of %s nodes on %s: %w", count(ph.Dataset), dir, err)
		}
		prog.done(1)
		for _, c := range ph.Cases {
			if err := runCase(ctx, cfg, dir, ws, c, rep, prog); err != nil {
				return err
			}
		}
		prog.step("%s: comparing the whole tree", dir)
		if err := compareTrees(ctx, ws, dir, fmt.Sprintf("the phase at %s nodes (whole tree)", count(ph.Dataset)), nil, rep); err != nil {
			return err
		}
	}
	return nil
}

// runCase prepares a case on every backend at once, then measures its
// repetitions one backend at a time, the first backend rotating.
func runCase(ctx context.Context, cfg Config, dir string, ws []*workerProc, c Case, rep *Report, prog *progress) error {
	prog.step("%s: %s: preparing", dir, c)
	if _, err := all(ctx, ws, request{Op: "prepare", Case: &c}); err != nil {
		return fmt.Errorf("bench: preparing %s on %s: %w", c, dir, err)
	}
	prog.done(1)
	samples := make([][]Sample, len(ws))
	for r := range cfg.Reps {
		for k := range ws {
			i := (k + r) % len(ws)
			prog.step("%s: %s: %s, repetition %d", dir, c, ws[i].name, r+1)
			resp, err := ws[i].call(ctx, request{Op: "measure", Case: &c, Rep: r})
			if err != nil {
				return fmt.Errorf("bench: %s on %s, repetition %d: %w", c, dir, r+1, err)
			}
			samples[i] = append(samples[i], *resp.Sample)
			prog.done(1)
		}
	}
	for i, w := range ws {
		rep.Results = append(rep.Results, summarize(dir, w.name, c, samples[i]))
	}
	if c.writes() {
		return compareTrees(ctx, ws, dir, c.String(), c.scopes(cfg.Reps), rep)
	}
	return nil
}

// compareTrees has every backend describe the scopes and fails unless all
// agree with the first and add up.
func compareTrees(ctx context.Context, ws []*workerProc, dir, after string, scopes []Scope, rep *Report) error {
	resps, err := all(ctx, ws, request{Op: "snapshot", Scope: scopes})
	if err != nil {
		return fmt.Errorf("bench: tree check after %s on %s: %w", after, dir, err)
	}
	for i, r := range resps {
		if len(r.Snapshot.Inconsistent) > 0 {
			return inconsistentError(after+" on "+dir, ws[i].name, r.Snapshot.Inconsistent)
		}
	}
	for i := 1; i < len(ws); i++ {
		if resps[i].Snapshot.Digest == resps[0].Snapshot.Digest {
			continue
		}
		full := request{Op: "snapshot", Scope: scopes, Full: true}
		a, err := ws[0].call(ctx, full)
		if err != nil {
			return err
		}
		b, err := ws[i].call(ctx, full)
		if err != nil {
			return err
		}
		return mismatchError(after+" on "+dir, ws[0].name, ws[i].name, a.Snapshot.Lines, b.Snapshot.Lines)
	}
	rep.Checks = append(rep.Checks, Check{FS: dir, After: after, Nodes: resps[0].Snapshot.Nodes})
	return nil
}
