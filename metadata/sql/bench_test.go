package sqlmeta_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/internal/pgtest"
	"github.com/s3dfs/s3dfs/metadata"
	sqlmeta "github.com/s3dfs/s3dfs/metadata/sql"
)

// Costs of single operations on each engine, for comparison with
// metadata/mpk's benchmarks. PostgreSQL is the test binary's server
// (fsync=off) unless S3DFS_PG_DSN names another, e.g. one started by
// scripts/start-postgres.sh; SQLite's file goes to S3DFS_BENCH_DIR if set.
// S3DFS_BENCH_DURABILITY=fsync measures flushed commits.

func benchStores(b *testing.B) map[string]func() *sqlmeta.Backend {
	opts := sqlmeta.DefaultOptions()
	if d := os.Getenv("S3DFS_BENCH_DURABILITY"); d != "" {
		var err error
		if opts.Durability, err = sqlmeta.ParseDurability(d); err != nil {
			b.Fatal(err)
		}
	}
	open := func(fn func(context.Context, sqlmeta.Options) (*sqlmeta.Backend, error), o sqlmeta.Options) *sqlmeta.Backend {
		be, err := fn(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { be.Close() })
		return be
	}
	return map[string]func() *sqlmeta.Backend{
		"postgres": func() *sqlmeta.Backend {
			o := opts
			o.DSN = pgtest.New(b)
			return open(sqlmeta.OpenPostgres, o)
		},
		"sqlite": func() *sqlmeta.Backend {
			dir := b.TempDir()
			if d := os.Getenv("S3DFS_BENCH_DIR"); d != "" {
				var err error
				if dir, err = os.MkdirTemp(d, "sqlmeta-bench"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			o := opts
			o.Path = filepath.Join(dir, "meta.db")
			return open(sqlmeta.OpenSQLite, o)
		},
	}
}

func eachStore(b *testing.B, fn func(b *testing.B, be *sqlmeta.Backend, sid string)) {
	for _, name := range []string{"postgres", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			be := benchStores(b)[name]()
			sid := uuid.NewString()
			now := time.Now().UnixNano()
			if err := be.CreateSpace(context.Background(), &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "b", Btime: now},
				&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: now}); err != nil {
				b.Fatal(err)
			}
			fn(b, be, sid)
		})
	}
}

func benchNode(sid, parent, name string, typ metadata.NodeType) *metadata.Node {
	return &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: parent, Name: name, Type: typ, Mtime: time.Now().UnixNano()}
}

func benchCreate(b *testing.B, be *sqlmeta.Backend, n *metadata.Node) *metadata.Node {
	if err := be.CreateNode(context.Background(), n); err != nil {
		b.Fatal(err)
	}
	return n
}

func benchChain(b *testing.B, be *sqlmeta.Backend, sid string, depth int) string {
	parent := sid
	for i := range depth {
		parent = benchCreate(b, be, benchNode(sid, parent, fmt.Sprintf("d%d", i), metadata.TypeDir)).ID
	}
	return parent
}

func BenchmarkReadNode(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		n := benchCreate(b, be, benchNode(sid, sid, "f", metadata.TypeFile))
		ctx := context.Background()
		for b.Loop() {
			if _, err := be.ReadNode(ctx, sid, n.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		benchCreate(b, be, benchNode(sid, sid, "f", metadata.TypeFile))
		ctx := context.Background()
		for b.Loop() {
			if _, err := be.Lookup(ctx, sid, sid, "f"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkList1000(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		d := benchChain(b, be, sid, 1)
		for i := range 1000 {
			benchCreate(b, be, benchNode(sid, d, fmt.Sprintf("f%04d", i), metadata.TypeFile))
		}
		ctx := context.Background()
		for b.Loop() {
			if l, err := be.List(ctx, sid, d); err != nil || len(l.Children) != 1000 {
				b.Fatal(l, err)
			}
		}
	})
}

// A new file at depth 5 and the propagation of its size: what an upload
// costs the node store.
func BenchmarkCreateAndPropagate(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		d := benchChain(b, be, sid, 5)
		ctx := context.Background()
		i := 0
		for b.Loop() {
			i++
			benchCreate(b, be, benchNode(sid, d, fmt.Sprintf("f%d", i), metadata.TypeFile))
			if err := be.Propagate(ctx, sid, d, 4096); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPropagate(b *testing.B) {
	for _, depth := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
				d := benchChain(b, be, sid, depth)
				ctx := context.Background()
				for b.Loop() {
					if err := be.Propagate(ctx, sid, d, 1); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkRename(b *testing.B) {
	for _, typ := range []metadata.NodeType{metadata.TypeFile, metadata.TypeDir} {
		b.Run(typ.String(), func(b *testing.B) {
			eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
				n := benchCreate(b, be, benchNode(sid, sid, "a", typ))
				ctx := context.Background()
				names := [2]string{"a", "b"}
				i := 0
				for b.Loop() {
					i++
					if _, err := be.MoveNode(ctx, sid, n.ID, sid, names[i%2], false); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkUpdateNode(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		n := benchCreate(b, be, benchNode(sid, sid, "f", metadata.TypeFile))
		ctx := context.Background()
		i := int64(0)
		for b.Loop() {
			i++
			if _, err := be.UpdateNode(ctx, sid, n.ID, func(n *metadata.Node) error { n.Size = i; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Eight writers create files in one folder and propagate to it, sharing
// the folder's row and the root's: the hot-row case.
func BenchmarkCreateSharedParallel(b *testing.B) {
	eachStore(b, func(b *testing.B, be *sqlmeta.Backend, sid string) {
		d := benchChain(b, be, sid, 1)
		ctx := context.Background()
		b.SetParallelism(4) // 2 cores: 8 writers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := benchNode(sid, d, uuid.NewString(), metadata.TypeFile)
				if err := be.CreateNode(ctx, n); err != nil {
					b.Error(err)
					return
				}
				if err := be.Propagate(ctx, sid, d, 4096); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
