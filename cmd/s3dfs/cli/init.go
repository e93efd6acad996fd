package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/storeid"
)

func (a *app) initCommand() *cobra.Command {
	c := &storeConfig{}
	var adopt, force bool
	var sample int
	cmd := &cobra.Command{
		Use:   "init --root DIR [blob store flags] [--adopt [--force]]",
		Short: "Create a store (or adopt an existing one's blob store)",
		Long: `Create a store: the metadata root DIR (missing or empty) and its blob store,
bound to each other. Every other command, and the server, opens only a store
that init made, and only with the blob store init recorded: they refuse a
missing root, a missing bucket, another bucket or another store's bucket, before
they read or change anything. Only init (and 's3dfs serve --init') creates
anything: the root, and the S3 bucket if it is missing (--s3-create-bucket=false
requires it to exist).

  s3dfs init --root DIR                                  # blobs in DIR/blobs
  s3dfs init --root DIR --s3-endpoint HOST:PORT --s3-bucket B   # keys from the environment

The root records the blob store in DIR/` + storeid.FileName + ` (kind, endpoint, bucket, and
a random store id); the blob store holds the same id in ` + storeid.MarkerKey + `.
The id is the proof: the same bucket reached through another endpoint (a new
host name) opens fine, an empty or another bucket does not.

--adopt records the blob store given for a store that exists: one made by an
earlier s3dfs, which has no identity yet, or one whose bucket moved (a copy
under a new name: re-pointing). The blob store must prove that it is the
store's: by its marker, or without one, by holding every blob of a sample of
those the store references (--sample); --force adopts it even if some are
missing (a bucket that really lost them). A bucket with another store's marker
is refused whatever the flags.

` + envHelp,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			st, err := c.resolve(cmd.Flags())
			if err != nil {
				return err
			}
			if force && !adopt {
				return usageErrorf("--force goes with --adopt")
			}
			ctx := cmd.Context()
			if !adopt {
				meta, _, id, err := createStore(ctx, st)
				if err != nil {
					return err
				}
				defer meta.Close()
				_, err = fmt.Fprintf(a.stdout, "created store %s at %s with its blobs in %s\n", id.ID, meta.Root(), id.BlobStore)
				return err
			}
			state, _, err := storeid.Inspect(c.root)
			if err != nil {
				return err
			}
			if state == storeid.Missing || state == storeid.Empty {
				return fmt.Errorf("no s3dfs store at %s to adopt ('s3dfs init' without --adopt creates one)", c.root)
			}
			blobs, err := openBlobs(ctx, st, false)
			if err != nil {
				return err
			}
			meta, err := mpk.New(st.meta)
			if err != nil {
				return fmt.Errorf("open metadata at %s: %w", c.root, err)
			}
			defer meta.Close()
			res, err := storeid.Adopt(ctx, c.root, st.desc, blobs, meta, storeid.AdoptOptions{Sample: sample, Force: force})
			if err != nil {
				return err
			}
			id := res.Identity
			proof := "its marker names this store"
			if !res.ByMarker {
				proof = fmt.Sprintf("%d of %d sampled blobs found", res.Sampled-len(res.Missing), res.Sampled)
				if res.Sampled == 0 {
					proof = "the store references no blobs yet"
				}
			}
			switch {
			case !res.Changed:
				_, err = fmt.Fprintf(a.stdout, "store %s at %s keeps its blobs in %s already (%s); nothing to change\n", id.ID, c.root, id.BlobStore, proof)
			case res.Previous != nil:
				_, err = fmt.Fprintf(a.stdout, "store %s at %s now keeps its blobs in %s, recorded before as %s (%s)\n", id.ID, c.root, id.BlobStore, *res.Previous, proof)
			default:
				_, err = fmt.Fprintf(a.stdout, "adopted: store %s at %s keeps its blobs in %s (%s)\n", id.ID, c.root, id.BlobStore, proof)
			}
			return err
		}),
	}
	f := cmd.Flags()
	c.addFlags(f)
	c.addCreateFlag(f)
	f.MarkHidden("space")
	f.BoolVar(&adopt, "adopt", false, "record the blob store given for an existing store (an earlier s3dfs's, or one whose bucket moved)")
	f.BoolVar(&force, "force", false, "with --adopt: adopt a blob store that lacks some of the sampled blobs")
	f.IntVar(&sample, "sample", storeid.DefaultSample, "with --adopt: how many of the store's blobs to look for in a blob store without a marker")
	return cmd
}
