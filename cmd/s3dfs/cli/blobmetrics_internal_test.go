package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
)

// plainStore hides every optional capability of a store.
type plainStore struct{ blobstore.Store }

type copyOnly struct {
	blobstore.Store
	blobstore.Copier
}

// The wrapper keeps exactly the capabilities of the store it wraps, and
// counts operations and failures.
func TestMeterBlobs(t *testing.T) {
	ps, err := posix.New(t.TempDir(), posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := newBlobMetrics(reg, "posix")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		s           blobstore.Store
		copier      bool
		multiparter bool
	}{
		{"posix", ps, true, true},
		{"plain", plainStore{ps}, false, false},
		{"copy only", copyOnly{ps, ps}, true, false},
	} {
		w := meterBlobs(tc.s, m)
		_, c := w.(blobstore.Copier)
		_, mp := w.(blobstore.Multiparter)
		if c != tc.copier || mp != tc.multiparter {
			t.Errorf("%s: copier %v multiparter %v", tc.name, c, mp)
		}
	}
	w := meterBlobs(ps, m)
	ctx := context.Background()
	if _, err := w.Put(ctx, "a/b", strings.NewReader("xy"), 2, blobstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.(blobstore.Copier).Copy(ctx, "a/b", "a/c", blobstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := w.Open(ctx, "a/c", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	w.Stat(ctx, "missing")                               // not found: not an error of the store
	w.Put(ctx, "../bad", nil, 0, blobstore.PutOptions{}) // invalid key: counted
	errs, ops := map[string]float64{}, map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			op := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "op" {
					op = l.GetValue()
				}
			}
			switch mf.GetName() {
			case "s3dfs_blobstore_errors_total":
				errs[op] = mt.GetCounter().GetValue()
			case "s3dfs_blobstore_operation_duration_seconds":
				ops[op] = mt.GetHistogram().GetSampleCount()
			}
		}
	}
	if errs["put"] != 1 || errs["stat"] != 0 {
		t.Errorf("errors %v, want one put (the invalid key) and no stat (not found is no failure)", errs)
	}
	if ops["put"] != 2 || ops["copy"] != 1 || ops["open"] != 1 || ops["stat"] != 1 {
		t.Errorf("operations %v", ops)
	}
}
