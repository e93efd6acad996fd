package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata"
	sqlmeta "github.com/s3dfs/s3dfs/metadata/sql"
	"golang.org/x/sys/unix"
)

// fsEnv is what a run sets up on one filesystem: its directory, and the
// servers whose data must live there.
type fsEnv struct {
	dir    string // the run's directory on the filesystem
	runID  string
	pgDSN  string
	pgDir  string // set if we started the server
	script string
	s3     S3Server
	s3srv  *s3test.Server
	// buckets the run used on an external S3 server, removed at the end.
	buckets []string
	info    FSInfo
}

// FSInfo describes a measured filesystem in the report.
type FSInfo struct {
	Path       string `json:"path"`
	Type       string `json:"type"`
	Mount      string `json:"mount_options,omitempty"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	Postgres   string `json:"postgres,omitempty"`
	S3         string `json:"s3,omitempty"`
	Duration   string `json:"duration"`
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setupFS makes the run's directory on a filesystem and starts the servers
// the selected backends and workloads need there.
func setupFS(ctx context.Context, cfg Config, fsDir string) (_ *fsEnv, err error) {
	env := &fsEnv{runID: newRunID()}
	env.info = FSInfo{Path: fsDir, LoadBefore: loadAvg()}
	env.info.Type, env.info.Mount = fsType(fsDir)
	if err := checkInodes(cfg, fsDir); err != nil {
		return nil, err
	}
	if env.dir, err = os.MkdirTemp(fsDir, "s3dfs-bench-"); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if err != nil {
			env.teardown(ctx, cfg.Keep)
		}
	}()
	// The database server runs as its own user (initdb refuses root),
	// which must reach its directory below ours.
	if err := os.Chmod(env.dir, 0o755); err != nil {
		return nil, err
	}
	if needsPostgres(cfg) {
		if cfg.PostgresDSN != "" {
			env.pgDSN = cfg.PostgresDSN
			env.info.Postgres = "external server (--pg-dsn); its data directory is where that server keeps it"
			if err := cleanPostgres(ctx, env.pgDSN, true); err != nil {
				return nil, err
			}
		} else {
			if env.script, err = findScript(cfg.PostgresScript); err != nil {
				return nil, err
			}
			env.pgDir = filepath.Join(env.dir, "postgres")
			if env.pgDSN, err = runScript(ctx, env.script, env.pgDir); err != nil {
				return nil, err
			}
			v, _ := os.ReadFile(filepath.Join(env.pgDir, "data", "PG_VERSION"))
			env.info.Postgres = fmt.Sprintf("PostgreSQL %s, data directory in the run directory (fsync=on; scripts/start-postgres.sh)", strings.TrimSpace(string(v)))
		}
	}
	if cfg.Blobs == "s3" && cfg.usesBlobs() {
		if cfg.S3.Endpoint != "" {
			env.s3 = cfg.S3
			env.info.S3 = "external server " + cfg.S3.Endpoint
		} else {
			d := filepath.Join(env.dir, "s3")
			if err := os.Mkdir(d, 0o755); err != nil {
				return nil, err
			}
			if env.s3srv, err = s3test.StartServer(d); err != nil {
				return nil, err
			}
			env.s3 = S3Server{Endpoint: env.s3srv.Endpoint, AccessKey: env.s3srv.AccessKey, SecretKey: env.s3srv.SecretKey, Region: env.s3srv.Region}
			env.info.S3 = fmt.Sprintf("versitygw (expected %s) on loopback, data in the run directory", s3test.VersityGWVersion)
		}
	}
	return env, nil
}

// bucket is the bucket of a backend's blobs.
func (e *fsEnv) bucket(backend string) string {
	b := "s3dfs-bench-" + e.runID + "-" + backend
	if e.s3srv == nil {
		e.buckets = append(e.buckets, b)
	}
	return b
}

func (e *fsEnv) teardown(ctx context.Context, keep bool) error {
	var errs []error
	if e.s3srv != nil {
		if err := e.s3srv.Stop(); err != nil {
			errs = append(errs, err)
		}
	} else if len(e.buckets) > 0 {
		errs = append(errs, cleanS3(context.WithoutCancel(ctx), e.s3, e.buckets))
	}
	if e.pgDir != "" && e.script != "" {
		cmd := exec.CommandContext(context.WithoutCancel(ctx), "bash", e.script, "--stop", e.pgDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("bench: stop postgres: %v: %s", err, out))
		}
	} else if e.pgDSN != "" {
		errs = append(errs, cleanPostgres(context.WithoutCancel(ctx), e.pgDSN, false))
	}
	if !keep && e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// cleanS3 removes a run's buckets from an external S3 server (best
// effort: an external server's data is not ours to leave behind).
func cleanS3(ctx context.Context, srv S3Server, buckets []string) error {
	var errs []error
	for _, b := range buckets {
		o := s3.DefaultOptions()
		o.Endpoint, o.AccessKey, o.SecretKey, o.UseTLS, o.Bucket = srv.Endpoint, srv.AccessKey, srv.SecretKey, srv.UseTLS, b
		if srv.Region != "" {
			o.Region = srv.Region
		}
		st, err := s3.New(ctx, o)
		if err != nil {
			continue // never created
		}
		var keys []string
		if err := st.List(ctx, "", func(bi blobstore.Info) error { keys = append(keys, bi.Key); return nil }); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, k := range keys {
			if err := st.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				break
			}
		}
		if err := st.Client().RemoveBucket(ctx, b); err != nil {
			errs = append(errs, fmt.Errorf("bench: remove bucket %s: %w", b, err))
		}
	}
	return errors.Join(errs...)
}

func needsPostgres(cfg Config) bool {
	for _, b := range cfg.Backends {
		if be, ok := lookupBackend(b); ok && be.UsesPostgres {
			return true
		}
	}
	return false
}

// cleanPostgres removes the spaces a run left in an external database; with
// mustBeEmpty it refuses a database that holds spaces already, since a run
// must start from nothing and must not delete anyone's data.
func cleanPostgres(ctx context.Context, dsn string, mustBeEmpty bool) error {
	o := sqlmeta.DefaultOptions()
	o.DSN = dsn
	b, err := sqlmeta.OpenPostgres(ctx, o)
	if err != nil {
		return fmt.Errorf("bench: postgres %s: %w", redactDSN(dsn), err)
	}
	defer b.Close()
	var ids []string
	if err := b.ListSpaces(ctx, func(s *metadata.Space) error { ids = append(ids, s.ID); return nil }, nil); err != nil {
		return err
	}
	if mustBeEmpty && len(ids) > 0 {
		return fmt.Errorf("bench: the database %s holds %d space(s) already; give the benchmark an empty database or schema", redactDSN(dsn), len(ids))
	}
	for _, id := range ids {
		if err := b.DeleteSpace(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// findScript locates scripts/start-postgres.sh: as given, else in the
// working directory or one of its parents, else next to the executable's
// directory (bin/s3dfs -> scripts/).
func findScript(given string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("bench: postgres script: %w", err)
		}
		return given, nil
	}
	const rel = "scripts/start-postgres.sh"
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			p := filepath.Join(d, rel)
			tried = append(tried, p)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(filepath.Dir(exe)), rel)
		tried = append(tried, p)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("bench: cannot find %s (looked at %s); pass --pg-script or --pg-dsn", rel, strings.Join(tried, ", "))
}

// runScript starts PostgreSQL with data in dir and returns its DSN. A
// failed start is tried once more: the script picks a free port, which
// another process may take before the server binds it.
func runScript(ctx context.Context, script, dir string) (string, error) {
	dsn, err := runScriptOnce(ctx, script, dir)
	if err != nil && ctx.Err() == nil {
		// Forget the port, or the script tries the same one again.
		_ = os.Remove(filepath.Join(dir, "port"))
		time.Sleep(time.Second)
		if dsn, err2 := runScriptOnce(ctx, script, dir); err2 == nil {
			return dsn, nil
		}
	}
	return dsn, err
}

func runScriptOnce(ctx context.Context, script, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if log := tail(filepath.Join(dir, "postgres.log"), 1024); log != "" {
			msg += "\n--- postgres.log (tail) ---\n" + log
		}
		return "", fmt.Errorf("bench: %s %s: %v\n%s", script, dir, err, msg)
	}
	dsn := strings.TrimSpace(stdout.String())
	if i := strings.LastIndex(dsn, "\n"); i >= 0 {
		dsn = dsn[i+1:]
	}
	if !strings.HasPrefix(dsn, "postgres") {
		return "", fmt.Errorf("bench: %s printed no DSN: %q", script, dsn)
	}
	return dsn, nil
}

// checkInodes fails early when fsDir's filesystem has clearly too few free
// inodes for the run, instead of half an hour in, at the largest step (a
// tmpfs has a fixed number of inodes, and leftovers of other runs may hold
// most of them). The estimate is a floor: two inodes (record and link) per
// node of the largest dataset and of the fullest burst folder, for each
// file-based backend. Filesystems without an inode limit report none and
// pass.
func checkInodes(cfg Config, fsDir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(fsDir, &st); err != nil || st.Files == 0 {
		return nil
	}
	nodes := uint64(0)
	if len(cfg.Sizes) > 0 {
		nodes += uint64(slices.Max(cfg.Sizes))
	}
	if len(cfg.BurstAt) > 0 {
		nodes += uint64(slices.Max(cfg.BurstAt))
	}
	files := uint64(0)
	for _, name := range cfg.Backends {
		if b, ok := lookupBackend(name); ok && b.Kind == "file" {
			files++
		}
	}
	if need := 2 * nodes * files; st.Ffree < need {
		return fmt.Errorf("bench: %s has %d free inodes, and this run needs at least %d (%d nodes in each of %d file-based stores): "+
			"free some (leftover s3dfs-bench-* or s3dfs-check-bench-* directories?) or choose smaller --sizes/--burst",
			fsDir, st.Ffree, need, nodes, files)
	}
	return nil
}
