package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/storeid"
	"github.com/s3dfs/s3dfs/volprobe"
)

type doctorConfig struct {
	store    storeConfig
	watch    time.Duration
	interval time.Duration
}

func (a *app) doctorCommand() *cobra.Command {
	c := &doctorConfig{}
	cmd := &cobra.Command{
		Use:   "doctor --root DIR [S3 flags] [--watch DURATION]",
		Short: "Check that the metadata volume gives what s3dfs needs, alone and across hosts",
		Long: `Check the volume of a root the way every 's3dfs serve' checks it, and print a
verdict table: user extended attributes, nanosecond times, RENAME_NOREPLACE,
directory fsync, OFD locks and flock within one process and between two
processes of this host, and, through the blob store (the bucket, which every
host shares), against every other process that uses the root: servers, and
doctor runs on other hosts. Start it on several hosts at about the same time
(within --watch) and they find each other: locks that one host holds must be
refused to the others, and what one host writes must show on the others at
once (strict cache mode) or within a second (relaxed).

The doctor never touches user data: it writes below <root>/volume, on bytes
of <root>/locks that no node lock uses, and below s3dfs-volume/ in the
bucket, and removes what it wrote. The root must exist; an empty one (no
store yet: vet a volume before 's3dfs init') is left empty.

Exit status: 0 the volume is safe (warnings included), 1 a check failed or
the doctor could not run, 2 usage error. ` + envHelp,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error { return a.doctor(cmd, c) }),
	}
	f := cmd.Flags()
	c.store.addFlags(f)
	f.MarkHidden("space")
	f.DurationVar(&c.watch, "watch", 10*time.Second, "how long to watch for other processes (servers, doctor runs on other hosts)")
	f.DurationVar(&c.interval, "interval", time.Second, "time between two probe rounds")
	cmd.AddCommand(&cobra.Command{
		Use:    "lock-helper LOCKFILE OFFSET FLOCKFILE",
		Short:  "The second process of the doctor's checks on one host",
		Hidden: true,
		Args:   args(3, 3),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return volprobe.ServeHelper(args, a.stdin, a.stdout)
		}),
	})
	return cmd
}

func (a *app) doctor(cmd *cobra.Command, c *doctorConfig) error {
	st, err := c.store.resolve(cmd.Flags())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	// A root that holds no store yet (the doctor is how to vet a volume
	// before 's3dfs init') is left as it was found: 's3dfs init' wants it
	// empty.
	if state, _, err := storeid.Inspect(c.store.root); err == nil && state == storeid.Empty {
		before, _ := os.ReadDir(c.store.root)
		defer removeNewEntries(c.store.root, before)
	}
	witness, err := openWitness(ctx, st)
	if err != nil {
		return err
	}
	o := volprobe.DefaultDoctorOptions(c.store.root, witness)
	volumeOptions(&o.Options, st)
	o.Interval, o.Watch = c.interval, c.watch
	o.Logger = slog.New(slog.DiscardHandler) // the table says it all
	if exe, err := os.Executable(); err == nil {
		o.Helper = []string{exe, "doctor", "lock-helper"}
	}
	if err := o.Validate(); err != nil {
		return usageError(err)
	}
	rep, err := volprobe.Doctor(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "s3dfs doctor: %s, watched for %v (witness: %s)\n\n", c.store.root, c.watch, witnessName(st))
	if err := rep.WriteTable(a.stdout); err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: ExitFailure, err: errReported}
	}
	return nil
}

// removeNewEntries removes what dir holds now and did not hold before.
func removeNewEntries(dir string, before []os.DirEntry) {
	had := map[string]bool{}
	for _, e := range before {
		had[e.Name()] = true
	}
	now, _ := os.ReadDir(dir)
	for _, e := range now {
		if !had[e.Name()] {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// openWitness opens the blob store of st alone: the store every process of
// the root shares, which the volume probes use as their witness.
func openWitness(ctx context.Context, st settings) (blobstore.Store, error) {
	if st.useS3 {
		o := st.s3
		o.CreateBucket = false // only 's3dfs init' creates buckets
		s, err := s3.New(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("open S3 bucket %s at %s: %w", st.s3.Bucket, st.s3.Endpoint, err)
		}
		return s, nil
	}
	s, err := posix.New(st.posixAt, st.posix)
	if err != nil {
		return nil, fmt.Errorf("open blob directory %s: %w", st.posixAt, err)
	}
	return s, nil
}

func witnessName(st settings) string {
	if st.useS3 {
		return fmt.Sprintf("bucket %s at %s", st.s3.Bucket, st.s3.Endpoint)
	}
	return "blob directory " + st.posixAt + " (shared by the processes of one host only)"
}

// volumeOptions sets what the store's configuration asks of the volume:
// the staleness bound of the cache mode, directory fsync for durability.
func volumeOptions(o *volprobe.Options, st settings) {
	if st.meta.CacheMode == cache.Relaxed {
		o.MaxStale = st.meta.MaxStale
	}
	o.NeedDirFsync = st.meta.Durability == mpk.DurabilityFsync
}
