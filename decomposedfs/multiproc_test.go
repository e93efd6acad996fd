package decomposedfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check/checktest"
	"github.com/s3dfs/s3dfs/decomposedfs/fstest"
	"github.com/s3dfs/s3dfs/internal/s3test"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// The multi-process test runs this test binary several times as workers
// (selected by workerEnv) that share one metadata root and one bucket.
const workerEnv = "S3DFS_TEST_WORKER"

type workerConfig struct {
	Root, Space string
	S3          s3test.Config
	Seed        uint64
	Ops         int
}

type workerResult struct {
	OK, Expected int            // operations that succeeded, or failed as they may
	ByOp         map[string]int // successes per operation
}

func TestMultiProcessConsistency(t *testing.T) {
	e := newEnv(t, s3Blobs)
	e.needMPK(t, "the worker processes open mpk on the same root")
	for _, d := range []string{"/d0", "/d1", "/d2", "/d0/s0", "/d1/s1"} {
		e.mkdir(t, d)
	}
	const workers, ops = 4, 300
	var wg sync.WaitGroup
	results := make([]workerResult, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, _ := json.Marshal(workerConfig{Root: e.root, Space: e.sid, S3: *e.s3, Seed: uint64(i) + 1, Ops: ops})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), workerEnv+"="+string(cfg))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("worker %d: %v\n%s", i, err, stderr.String())
				return
			}
			if err := json.Unmarshal(stdout.Bytes(), &results[i]); err != nil {
				errs[i] = fmt.Errorf("worker %d output %q: %v", i, stdout.String(), err)
			}
		}()
	}
	wg.Wait()
	total := workerResult{ByOp: map[string]int{}}
	for i := range workers {
		if errs[i] != nil {
			t.Error(errs[i])
			continue
		}
		total.OK += results[i].OK
		total.Expected += results[i].Expected
		for k, v := range results[i].ByOp {
			total.ByOp[k] += v
		}
	}
	t.Logf("%d workers x %d ops: %d succeeded, %d failed as allowed; successes by op %v", workers, ops, total.OK, total.Expected, total.ByOp)
	for _, op := range []string{"upload", "mkdir", "move", "delete"} {
		if total.ByOp[op] == 0 {
			t.Errorf("no %s succeeded: the workload did not exercise it", op)
		}
	}
	// Through this process's warm caches, and through a fresh handle.
	e.consistent(t)
	meta, err := mpk.New(mpk.DefaultOptions(e.root))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	fresh, err := decomposedfs.New(meta, e.blobs, decomposedfs.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fstest.AssertConsistent(t, fresh)
	checktest.AssertClean(t, fresh)
}

// runWorker is the body of a worker process: random operations on a small
// shared namespace, so that workers collide on names and folders.
func runWorker() int {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fs, closeFS, err := openChildFS(cfg.Root, cfg.S3, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer closeFS()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(cfg.Seed, 42))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	folder := func() string {
		if rng.IntN(2) == 0 {
			return "/" + pick("d0", "d1", "d2")
		}
		return "/" + pick("d0", "d1", "d2") + "/" + pick("s0", "s1")
	}
	anyPath := func() string {
		if rng.IntN(3) == 0 {
			return folder()
		}
		return folder() + "/" + pick("f0", "f1", "f2", "f3")
	}
	ref := func(p string) decomposedfs.Reference { return decomposedfs.Reference{SpaceID: cfg.Space, Path: p} }
	res := workerResult{ByOp: map[string]int{}}
	for i := 0; i < cfg.Ops; i++ {
		var op string
		var err error
		switch r := rng.IntN(100); {
		case r < 40:
			op = "upload"
			data := payload(rng.Uint64(), rng.IntN(20_000))
			_, err = fs.Upload(ctx, ref(folder()+"/"+pick("f0", "f1", "f2", "f3")), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))})
		case r < 55:
			op = "mkdir"
			_, err = fs.CreateDir(ctx, ref(folder()))
		case r < 75:
			op = "move"
			_, err = fs.Move(ctx, ref(anyPath()), ref(anyPath()), rng.IntN(2) == 0)
		case r < 85:
			op = "delete"
			err = fs.Delete(ctx, ref(anyPath()))
		default:
			op = "list"
			_, err = fs.ListFolder(ctx, ref(folder()))
		}
		switch {
		case err == nil:
			res.OK++
			res.ByOp[op]++
		case errors.Is(err, decomposedfs.ErrNotFound), errors.Is(err, decomposedfs.ErrExist),
			errors.Is(err, decomposedfs.ErrCycle), errors.Is(err, decomposedfs.ErrNotDir),
			errors.Is(err, decomposedfs.ErrIsDir):
			res.Expected++
		default:
			fmt.Fprintf(os.Stderr, "op %d (%s): unexpected error: %v\n", i, op, err)
			return 1
		}
	}
	out, _ := json.Marshal(res)
	fmt.Println(strings.TrimSpace(string(out)))
	return 0
}
