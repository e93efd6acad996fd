package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/metadata"
)

// WalkNodes calls fn for every node record of a space, live or trashed, in
// shard order, reading each from disk (not the cache). A record that cannot
// be read is passed with its error and a nil node; fn decides whether that
// stops the walk. Memory stays bounded by one shard directory's names.
func (b *Backend) WalkNodes(ctx context.Context, sid string, fn func(id string, n *metadata.Node, err error) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	nodes := filepath.Join(b.spacePath(sid), nodesDir)
	shards, err := os.ReadDir(nodes)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	if err != nil {
		return fmt.Errorf("mpk: walk: %w", err)
	}
	for _, shard := range shards {
		names, err := readDirNames(filepath.Join(nodes, shard.Name()))
		if err != nil {
			return fmt.Errorf("mpk: walk: %w", err)
		}
		slices.Sort(names)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, ok := strings.CutSuffix(name, recordExt)
			if !ok || metadata.ValidateID(id) != nil {
				continue // folder directories and leftover temp files
			}
			n, err := b.readFresh(sid, id)
			if err := fn(id, n, err); err != nil {
				return err
			}
		}
	}
	return nil
}
