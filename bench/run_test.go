package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// The test binary is also the workers' program: started with WorkerEnv,
// it serves the parent instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv(WorkerEnv) == "1" {
		os.Exit(WorkerMain())
	}
	os.Exit(m.Run())
}

// lossy is mpk with a bug: it files one of the create workload's files
// under a wrong name. Registered for the tests only (in both the parent
// and the workers, which run this binary).
type lossy struct{ *mpk.Backend }

func (b lossy) CreateNode(ctx context.Context, n *metadata.Node) error {
	if strings.HasSuffix(n.Name, "-w00-00001") {
		c := *n
		c.Name += "~"
		return b.Backend.CreateNode(ctx, &c)
	}
	return b.Backend.CreateNode(ctx, n)
}

func init() {
	registry = append(registry, fileBased("lossy", func(o mpk.Options) (lossy, error) {
		b, err := mpk.New(o)
		return lossy{b}, err
	}))
}

// scratch returns a directory on tmpfs if there is one (the quick run is
// about correctness, and tmpfs is quick), else in the temp dir. Others
// may enter it: the PostgreSQL server runs as its own user.
func scratch(t *testing.T) string {
	t.Helper()
	parent := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		parent = "/dev/shm"
	}
	d, err := os.MkdirTemp(parent, "s3dfs-bench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestQuickRun is the quick run end to end on one filesystem: every
// workload, the real backends in worker processes, PostgreSQL started by
// the project's script, versitygw for the uploads, the cross-check, the
// report files.
func TestQuickRun(t *testing.T) {
	cfg := QuickConfig()
	cfg.Backends = []string{"mpk", "xattr", "postgres", "sqlite"}
	cfg.Reps = 2 // repetitions rotate the backends and write folders of their own
	cfg.FS = []string{scratch(t)}
	cfg.Out = t.TempDir()
	cfg.Name = "quick"
	cfg.CommandLine = []string{"s3dfs", "bench", "--quick"}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, ph := range cfg.Plan() {
		cases += len(ph.Cases)
	}
	if len(rep.Results) != cases*len(cfg.Backends) {
		t.Errorf("%d results, want %d cases × %d backends", len(rep.Results), cases, len(cfg.Backends))
	}
	for _, r := range rep.Results {
		if r.OpsPerSec <= 0 || r.P50 <= 0 || r.Ops < int64(cfg.Reps) || len(r.Rates) != cfg.Reps {
			t.Errorf("%s %s: %+v", r.Backend, r.Case, r)
		}
	}
	if len(rep.Checks) == 0 || rep.Error != "" {
		t.Errorf("%d checks, error %q", len(rep.Checks), rep.Error)
	}
	measured := 0
	for _, v := range rep.Targets {
		if v.Status != "not measured" {
			measured++
		}
	}
	if measured < 3 {
		t.Errorf("only %d targets measured: %+v", measured, rep.Targets)
	}
	for _, f := range []string{"quick.md", "quick.csv", "quick.json", "quick-" + fsSlug(cfg.FS[0]) + "-reads.png"} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Error(err)
		}
	}
	// Nothing is left behind on the measured filesystem.
	left, _ := filepath.Glob(filepath.Join(cfg.FS[0], "s3dfs-bench-*"))
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestDisagreementFailsTheRun: a backend that stores a tree different from
// the others' fails the run, with a diff that names the node.
func TestDisagreementFailsTheRun(t *testing.T) {
	cfg := QuickConfig()
	cfg.Backends = []string{"mpk", "lossy"}
	cfg.FS = []string{scratch(t)}
	cfg.Workloads = []string{"create-files"}
	cfg.Durabilities = []Durability{NoSync}
	cfg.Workers = []int{1}
	cfg.Sizes = []int{100}
	cfg.Reps = 1
	rep, err := Run(t.Context(), cfg)
	if !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("err = %v, want ErrTreeMismatch", err)
	}
	for _, want := range []string{"mpk and lossy differ in 2 node(s)", "f-w00-00001: mpk has f 0, lossy has (none)", "f-w00-00001~: mpk has (none), lossy has f 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if rep == nil || rep.Error == "" {
		t.Error("the report does not record the failure")
	}
}

// TestWorkerFailureIsReported: a backend that cannot open fails the run
// with the worker's message.
func TestWorkerFailureIsReported(t *testing.T) {
	cfg := QuickConfig()
	cfg.Backends = []string{"postgres"}
	cfg.PostgresDSN = "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	cfg.FS = []string{scratch(t)}
	cfg.Workloads = []string{"stat-id"}
	_, err := Run(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Fatalf("err = %v", err)
	}
}
