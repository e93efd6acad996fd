// Package checktest lets any test assert in one line that a store is
// consistent:
//
//	checktest.AssertClean(t, fs)
//
// It runs the full checker (decomposedfs/check) over the FS's node store
// and blob store with the settings of a quiet store: no grace period, no
// settling time, every phase. A finding fails the test with the finding
// spelled out. It supersedes decomposedfs/fstest.
//
// For node stores other than metadata/mpk (which the checker reads on disk
// directly), it falls back to a walk through the metadata.Backend API
// that checks what that API can show: links against records, tree sizes,
// and each file's blob.
package checktest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Options are the check settings for tests: a quiet store, so nothing is
// in flight and nothing needs to settle.
func Options(t testing.TB) check.Options {
	o := check.DefaultOptions()
	o.Grace, o.PendingGrace, o.Settle = 0, 0, 0
	o.Workers = 4
	o.RequestRate = 0
	o.TempDir = t.TempDir()
	return o
}

// Check runs the checker over fs with opts (nil: Options(t)) and returns
// its findings and summary. It fails the test if the check cannot run.
func Check(t testing.TB, fs *decomposedfs.FS, opts *check.Options) ([]*check.Finding, *check.Summary) {
	t.Helper()
	meta, ok := fs.Backend().(*mpk.Backend)
	if !ok || meta.RecordsInXattr() {
		return generic(t, fs), &check.Summary{Complete: true}
	}
	o := Options(t)
	if opts != nil {
		o = *opts
	}
	c, err := check.New(meta, fs.Blobs(), o)
	if err != nil {
		t.Fatalf("checktest: %v", err)
	}
	var out []*check.Finding
	sum, err := c.Run(context.Background(), func(f *check.Finding) error {
		out = append(out, f)
		return nil
	})
	if err != nil {
		t.Fatalf("checktest: the check could not run: %v", err)
	}
	return out, sum
}

// AssertClean fails the test with every finding of a check of fs, and if
// the check could not read everything.
func AssertClean(t testing.TB, fs *decomposedfs.FS) {
	t.Helper()
	fds, sum := Check(t, fs, nil)
	for _, f := range fds {
		t.Errorf("inconsistent: %s", f)
	}
	if !sum.Complete {
		t.Errorf("the check could not read everything: %d errors, e.g. %q", sum.Errors, sum.ErrorSamples)
	}
}

// Codes returns the codes of findings, in order.
func Codes(fds []*check.Finding) []check.Code {
	out := make([]check.Code, len(fds))
	for i, f := range fds {
		out[i] = f.Code
	}
	return out
}

// Repair checks fs, writes the report into a new run directory and applies
// it, as `s3dfs check --repair` does, with the test settings. It returns
// the findings, the repair's outcomes and its summary.
func Repair(t testing.TB, fs *decomposedfs.FS) ([]*check.Finding, []*check.Outcome, *check.RepairSummary) {
	t.Helper()
	meta, ok := fs.Backend().(*mpk.Backend)
	if !ok {
		t.Fatalf("checktest: repair needs the mpk node store")
	}
	unlock, err := check.LockRuns(meta.Root())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c, err := check.New(meta, fs.Blobs(), Options(t))
	if err != nil {
		t.Fatal(err)
	}
	run := check.NewRunID(timeNow())
	dir := check.RunDir(meta.Root(), run)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.ndjson")
	rf, err := os.Create(report)
	if err != nil {
		t.Fatal(err)
	}
	w := check.NewReportWriter(rf)
	var fds []*check.Finding
	sum, err := c.Run(context.Background(), func(f *check.Finding) error {
		fds = append(fds, f)
		return w.Finding(f)
	})
	if err != nil {
		t.Fatalf("checktest: the check could not run: %v", err)
	}
	if err := w.Summary(sum); err != nil {
		t.Fatal(err)
	}
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	var outs []*check.Outcome
	rp, err := check.NewRepairer(meta, fs.Blobs(), check.RepairOptions{Run: run, Outcome: func(o *check.Outcome) { outs = append(outs, o) }})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rp.Apply(context.Background(), report)
	if err != nil {
		t.Fatalf("checktest: repair: %v", err)
	}
	return fds, outs, rs
}

// Describe formats outcomes for a test failure message.
func Describe(outs []*check.Outcome) string {
	var b strings.Builder
	for _, o := range outs {
		b.WriteString("\n  ")
		b.WriteString(o.Result)
		b.WriteString(" ")
		b.WriteString(string(o.Finding.Code))
		if o.Action != "" {
			b.WriteString(": " + o.Action)
		}
		if o.Reason != "" {
			b.WriteString(" (" + o.Reason + ")")
		}
	}
	return b.String()
}
