package xattr

import (
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// New opens (or creates) a store at opts.Root that keeps node records in
// extended attributes. opts.RecordsInXattr is set whatever it was.
func New(opts mpk.Options) (*mpk.Backend, error) {
	opts.RecordsInXattr = true
	return mpk.New(opts)
}

var _ metadata.Backend = (*mpk.Backend)(nil)
