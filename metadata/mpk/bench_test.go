package mpk_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Write-path costs of the node store, one operation each. Set
// S3DFS_BENCH_DIR to run them on another filesystem (e.g. /dev/shm).

func benchStore(b *testing.B, opts func(*mpk.Options)) (*mpk.Backend, string) {
	dir := b.TempDir()
	if d := os.Getenv("S3DFS_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "mpk-bench"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	o := mpk.DefaultOptions(dir)
	if opts != nil {
		opts(&o)
	}
	be, err := mpk.New(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	sid := uuid.NewString()
	now := time.Now().UnixNano()
	if err := be.CreateSpace(context.Background(), &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "b", Btime: now},
		&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now}); err != nil {
		b.Fatal(err)
	}
	return be, sid
}

func newNode(sid, parent, name string, typ metadata.NodeType) *metadata.Node {
	return &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: parent, Name: name, Type: typ, Mtime: time.Now().UnixNano()}
}

func mustCreate(b *testing.B, be *mpk.Backend, n *metadata.Node) *metadata.Node {
	if err := be.CreateNode(context.Background(), n); err != nil {
		b.Fatal(err)
	}
	return n
}

// chain creates depth nested folders below the root and returns the deepest.
func chain(b *testing.B, be *mpk.Backend, sid string, depth int) string {
	parent := sid
	for i := range depth {
		parent = mustCreate(b, be, newNode(sid, parent, fmt.Sprintf("d%d", i), metadata.TypeDir)).ID
	}
	return parent
}

func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	for _, dur := range []mpk.Durability{mpk.DurabilityNone, mpk.DurabilityFsync} {
		setDur := func(o *mpk.Options) { o.Durability = dur }
		b.Run("CreateNode-file/"+dur.String(), func(b *testing.B) {
			be, sid := benchStore(b, setDur)
			i := 0
			for b.Loop() {
				i++
				mustCreate(b, be, newNode(sid, sid, fmt.Sprint(i), metadata.TypeFile))
			}
		})
		b.Run("CreateNode-folder/"+dur.String(), func(b *testing.B) {
			be, sid := benchStore(b, setDur)
			i := 0
			for b.Loop() {
				i++
				mustCreate(b, be, newNode(sid, sid, fmt.Sprint(i), metadata.TypeDir))
			}
		})
		b.Run("UpdateNode/"+dur.String(), func(b *testing.B) {
			be, sid := benchStore(b, setDur)
			n := mustCreate(b, be, newNode(sid, sid, "f", metadata.TypeFile))
			i := 0
			for b.Loop() {
				i++
				if _, err := be.UpdateNode(ctx, sid, n.ID, func(n *metadata.Node) error { n.Size = int64(i); return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("MoveNode-rename/"+dur.String(), func(b *testing.B) {
			be, sid := benchStore(b, setDur)
			n := mustCreate(b, be, newNode(sid, sid, "f0", metadata.TypeFile))
			i := 0
			for b.Loop() {
				i++
				if _, err := be.MoveNode(ctx, sid, n.ID, sid, fmt.Sprintf("f%d", i), false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Propagate-per-ancestor", func(b *testing.B) {
		be, sid := benchStore(b, nil)
		leaf := chain(b, be, sid, 9) // 10 folders with the root
		for b.Loop() {
			if err := be.Propagate(ctx, sid, leaf, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/ancestor")
	})
}

// BenchmarkCacheMemory fills the record cache with 1e5 nodes and reports
// the heap it takes per node.
func BenchmarkCacheMemory(b *testing.B) {
	const nodes = 100_000
	ctx := context.Background()
	be, sid := benchStore(b, func(o *mpk.Options) { o.CacheBytes = 1 << 30 })
	ids := make([]string, 0, nodes)
	folder := sid
	for i := range nodes {
		if i%1000 == 0 {
			folder = mustCreate(b, be, newNode(sid, sid, fmt.Sprintf("dir%d", i/1000), metadata.TypeDir)).ID
		}
		n := newNode(sid, folder, fmt.Sprintf("file-%06d.txt", i), metadata.TypeFile)
		n.BlobID, n.Size, n.MimeType = uuid.NewString(), 12345, "text/plain"
		n.Checksums = metadata.Checksums{SHA1: make([]byte, 20), MD5: make([]byte, 16), Adler32: make([]byte, 4)}
		ids = append(ids, mustCreate(b, be, n).ID)
	}
	// Fresh handle: its cache holds nothing yet.
	be2, err := mpk.New(mpk.Options{Root: be.Root(), CacheBytes: 1 << 30, CacheMode: cache.Strict})
	if err != nil {
		b.Fatal(err)
	}
	defer be2.Close()
	measured := false
	for b.Loop() {
		if measured {
			continue // the cache is full now; the first pass is the measurement
		}
		measured = true
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, id := range ids {
			if _, err := be2.ReadNode(ctx, sid, id); err != nil {
				b.Fatal(err)
			}
		}
		be2.WaitCache()
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := be2.CacheStats().Nodes
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/nodes, "heap-bytes/node")
		b.ReportMetric(float64(st.Evictions), "evictions")
		runtime.KeepAlive(ids)
	}
}
