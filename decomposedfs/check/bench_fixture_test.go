package check_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// TestBenchFixture builds the store the check benchmarks run on
// (scripts/check-bench.sh): S3DFS_CHECK_BENCH_NODES nodes in one space at
// S3DFS_CHECK_BENCH_ROOT, in folders of S3DFS_CHECK_BENCH_FANOUT (default
// 1000) files each, written through metadata/mpk (records, links, and one
// propagation per folder for exact tree sizes). With S3DFS_CHECK_BENCH_S3=1
// every file also gets a real 1 KiB blob in the bucket S3DFS_S3_BUCKET of
// the server in S3DFS_S3_ENDPOINT (and its keys). Without the variables it
// does nothing. A root that holds a finished fixture is left as it is.
func TestBenchFixture(t *testing.T) {
	root := os.Getenv("S3DFS_CHECK_BENCH_ROOT")
	nodes, _ := strconv.Atoi(os.Getenv("S3DFS_CHECK_BENCH_NODES"))
	if root == "" || nodes == 0 {
		t.Skip("S3DFS_CHECK_BENCH_ROOT and S3DFS_CHECK_BENCH_NODES are not set: no fixture to build")
	}
	if _, err := os.Stat(root + "/fixture-done"); err == nil {
		t.Logf("%s holds a fixture already", root)
		return
	}
	fanout := 1000
	if v := os.Getenv("S3DFS_CHECK_BENCH_FANOUT"); v != "" {
		fanout, _ = strconv.Atoi(v)
	}
	var blobs blobstore.Store
	if os.Getenv("S3DFS_CHECK_BENCH_S3") == "1" {
		o := s3.DefaultOptions()
		o.Endpoint, o.Bucket = os.Getenv("S3DFS_S3_ENDPOINT"), os.Getenv("S3DFS_S3_BUCKET")
		o.AccessKey, o.SecretKey = os.Getenv("S3DFS_S3_ACCESS_KEY"), os.Getenv("S3DFS_S3_SECRET_KEY")
		o.CreateBucket = true
		st, err := s3.New(context.Background(), o)
		must(t, err)
		blobs = st
	}
	start := time.Now()
	o := mpk.DefaultOptions(root)
	o.CacheBytes = 0
	meta, err := mpk.New(o)
	must(t, err)
	defer meta.Close()
	ctx := context.Background()
	sid := uuid.NewString()
	now := cache.NextTime()
	must(t, meta.CreateSpace(ctx, &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "bench", Btime: now},
		&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now, Btime: now}))

	// Folders: a top level of about sqrt(n) folders, each with folders
	// below it, each holding fanout files.
	nFolders := max(1, nodes/(fanout+1))
	top := 1
	for top*top < nFolders {
		top++
	}
	type folder struct{ id, parent string }
	var folders []folder
	for i := 0; len(folders) < nFolders; i++ {
		f := folder{id: uuid.NewString(), parent: sid}
		if i >= top {
			f.parent = folders[i%top].id
		}
		folders = append(folders, f)
	}
	for i, f := range folders {
		now := cache.NextTime()
		must(t, meta.CreateNode(ctx, &metadata.Node{ID: f.id, SpaceID: sid, ParentID: f.parent, Name: fmt.Sprintf("d%d", i),
			Type: metadata.TypeDir, Mtime: now, Btime: now}))
	}
	files := nodes - 1 - len(folders)
	var made atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	workers := 8
	sums := make([]atomic.Int64, len(folders))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte(w)}, 1024)
			for i := w; i < files; i += workers {
				fi := i % len(folders)
				f := folders[fi]
				now := cache.NextTime()
				n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: f.id, Name: fmt.Sprintf("f%d", i),
					Type: metadata.TypeFile, Size: int64(1 + i%4096), BlobID: uuid.NewString(), Mtime: now, Btime: now}
				if blobs != nil {
					n.Size = int64(len(data))
					if _, err := blobs.Put(ctx, decomposedfs.BlobKey(sid, n.BlobID), bytes.NewReader(data), n.Size,
						blobstore.PutOptions{Metadata: map[string]string{"space": sid, "node": n.ID}}); err != nil {
						errs <- err
						return
					}
				}
				if err := meta.CreateNode(ctx, n); err != nil {
					errs <- err
					return
				}
				sums[fi].Add(n.Size)
				if c := made.Add(1); c%100000 == 0 {
					t.Logf("%d files in %s", c, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, f := range folders {
		must(t, meta.Propagate(ctx, sid, f.id, sums[i].Load()))
	}
	must(t, os.WriteFile(root+"/fixture-done", []byte(sid+"\n"), 0o644))
	t.Logf("%d nodes (%d folders, %d files) in %s", nodes, len(folders), files, time.Since(start).Round(time.Millisecond))
}
