package decomposedfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// CacheStats returns the counters of every cache in the driver, by name:
// the backend's (for metadata/mpk: records, listings, names, spaces) and
// the path caches ("paths", "ids").
func (fs *FS) CacheStats() map[string]cache.Stats {
	out := map[string]cache.Stats{}
	if r, ok := fs.meta.(metadata.CacheReporter); ok {
		for k, v := range r.CacheCounters() {
			out[k] = v
		}
	}
	out["paths"], out["ids"] = fs.lu.Stats()
	return out
}

// Ready reports whether the metadata volume and the blob store answer: for
// readiness probes. A blob store that merely has no probe key is fine; one
// that cannot be reached is not.
func (fs *FS) Ready(ctx context.Context) error {
	if c, ok := fs.meta.(metadata.Checker); ok {
		if err := c.Check(ctx); err != nil {
			return err
		}
	}
	if _, err := fs.blobs.Stat(ctx, "s3dfs-readiness-probe"); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		return fmt.Errorf("decomposedfs: blob store unusable: %w", err)
	}
	return nil
}
