package check_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

func TestProfCheck(t *testing.T) {
	root := os.Getenv("PROF_ROOT")
	if root == "" {
		t.Skip()
	}
	o := mpk.DefaultOptions(root)
	o.CacheBytes = 0
	meta, err := mpk.New(o)
	must(t, err)
	opts := check.DefaultOptions()
	opts.Settle = 0
	opts.Phases = []check.Phase{check.PhaseNodes, check.PhaseTree}
	c, err := check.New(meta, nil, opts)
	must(t, err)
	start := time.Now()
	sum, err := c.Run(context.Background(), nil)
	must(t, err)
	t.Logf("%d nodes in %s: %.0f/s", sum.Nodes, time.Since(start), float64(sum.Nodes)/time.Since(start).Seconds())
}
