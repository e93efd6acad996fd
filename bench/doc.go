// Package bench compares metadata backends (file-based: metadata/mpk and
// its relatives; DB-backed: PostgreSQL and SQLite through metadata/sql) by
// running the same seeded workloads through the same driver
// (decomposedfs) on each of them, side by side, and reports the result as
// tables (Markdown, CSV, JSON) and charts (PNG). `s3dfs bench` is its
// command line; `s3dfs bench --quick` is the smoke test of `make test`.
//
// # What a run is
//
// For each filesystem of Config.FS (by default the disk, /tmp, and tmpfs,
// /dev/shm) a run makes a directory there and puts everything it measures
// below it: each backend's store, the PostgreSQL data directory (started
// with scripts/start-postgres.sh unless a DSN is given), the versitygw
// data (unless an S3 endpoint is given) and the posix blob stores. So the
// database always sits on the filesystem of the volume it is compared
// with.
//
// Each backend runs in a worker process of its own (the parent re-executes
// itself, see WorkerEnv), so that one backend's caches, garbage and memory
// never weigh on another's figures, and peak RSS is per backend. The
// parent sends the workers the same steps in the same order, one
// measurement at a time, rotating which backend goes first from one
// repetition to the next, so that the noise of a shared machine falls on
// all of them alike. Steps that are not measured (building the dataset,
// preparing the nodes a write workload renames or deletes) run on all
// workers at once.
//
// # Datasets and workloads
//
// The data space holds the dataset: a forest of identical 1 000-node
// subtrees (/pNNNN/aI/bJ/file-KK.txt: 91 folders, 909 files of seeded
// sizes), grown from one size of Config.Sizes to the next, plus fixtures
// next to it: chains of folders 50 deep for stat by path and folders of 10
// to 10 000 children for listings. The dataset is laid down through
// metadata.Backend directly (the records and links decomposedfs would
// write, without content) because building it is not what is measured;
// every measured operation goes through decomposedfs.FS, as a gateway's
// would, as the space's owner (Config.User).
//
// Workloads (see plan.go for the full matrix and Case for the
// parameters): stat-id, stat-path and list in the cache states hot (a
// warmed working set) and cold (a freshly opened backend and FS, empty
// caches; the kernel's page cache and PostgreSQL's buffers stay warm),
// strict and relaxed; create-files, create-folders, rename, move
// (folders), delete (files, folders) and upload-small at both
// durabilities, with writers in one folder, in one space (own folders) or
// in separate spaces, at 1 to 64 workers; a mixed read/write workload;
// and an upload burst into one folder, measured in windows at 1 000,
// 10 000 and 100 000 files (the folder is filled between windows through
// metadata.Backend, so that it is the folder that grows, not the S3
// bucket). Write workloads run at the largest dataset size only.
//
// Durability is matched: "fsync" is mpk's flushed records, PostgreSQL's
// synchronous_commit=on (with fsync=on in the server) and SQLite's
// synchronous=FULL; "none" is no flush, synchronous_commit=off and
// synchronous=NORMAL. Content goes to the blob store of Config.Blobs (S3
// by default; the posix store flushes with durability "fsync").
//
// # The cross-check
//
// Every workload is deterministic given the seed: the same names, sizes
// and moves in every backend, whatever the interleaving of concurrent
// workers (each writer owns its names). After each write workload the
// parent has every worker walk the subtrees the workload wrote (through
// decomposedfs listings) and compares them, and after each dataset phase
// the whole tree: names, types, sizes and folder tree sizes must agree
// between backends, and each folder's tree size must equal the sum of its
// children. A disagreement fails the run with a diff (ErrTreeMismatch).
//
// # Figures
//
// A measurement is a fixed number of operations (reads may stop early
// once a time budget is spent; they change nothing). Latencies go into
// log-linear histograms (1% resolution); ops/s is operations over wall
// time. Each case is repeated Config.Reps times; the report gives the
// median rate, the percentiles of all repetitions' latencies together,
// the median allocations per operation (of the worker process, all
// goroutines) and the worker's peak RSS during the measurements (VmHWM,
// reset before each one). Every report is stamped with the machine, the
// Go version, the command line, the seed and the load average.
package bench
