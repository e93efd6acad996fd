// Command webdav measures `s3dfs serve` against the WebDAV servers and the
// S3 client a user could pick instead, in one run, on one machine, on one
// filesystem, and writes the figures as Markdown to
// <out>/<date>-webdav.md:
//
//	go run ./bench/webdav -out bench/results/
//	go run ./bench/webdav -quick -out /tmp/     # a smoke run: fewer repetitions
//
// It starts everything it measures on loopback ports below one temporary
// directory (-tmp, default $TMPDIR or /tmp) and removes it at the end:
// versitygw (internal/s3test) as the S3 server; s3dfs, built from
// ./cmd/s3dfs, with its content in S3; `rclone serve webdav` over an S3
// bucket of the same versitygw; Apache httpd with mod_dav on a local
// directory; golang.org/x/net/webdav on a local directory
// (bench/webdav/cmd/xnetdav); and minio-go calling the S3 server directly.
// rclone and apache2 are Debian packages (apt-get install -y rclone
// apache2); a missing one is an error, not a silently shorter table.
//
// The workloads: PROPFIND depth 1 of a folder of 1 000 files (hot: a
// process that served it before; cold: the first request of a fresh
// process), 4 KiB PUT and GET from one client, one request at a time,
// 64 MiB PUT and GET, and MOVE of a folder of 1 000 files. The peers take
// turns within every repetition, so that the noise of a shared machine
// falls on all of them alike; the report gives each s3dfs figure as a ratio
// to its baseline measured in the same run, and says for each target of
// issue 4 whether it is met.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is what the flags select.
type config struct {
	out     string // directory of the report
	tmp     string // parent of the work directory
	quick   bool
	keep    bool // keep the work directory
	verbose bool
	// s3KeepAlive starts versitygw with --keep-alive. internal/s3test starts
	// it without, and then versitygw closes every connection after one
	// request, so every S3 request pays a TCP connect.
	s3KeepAlive bool

	files       int // files in the PROPFIND and MOVE folders
	propHot     int // hot PROPFIND samples per server
	propCold    int // fresh processes per server
	smallRounds int // rounds of 4 KiB requests
	smallN      int // 4 KiB PUTs (and GETs) per round and peer
	bigReps     int // 64 MiB PUTs (and GETs) per peer
	bigSize     int64
	moveReps    int // MOVEs of the folder per server
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "bench/results", "directory to write <date>-webdav.md into")
	flag.StringVar(&c.tmp, "tmp", os.TempDir(), "parent `DIR` of the work directory (the filesystem under test)")
	flag.BoolVar(&c.quick, "quick", false, "a fast smoke run: few repetitions (the report is named <date>-webdav-quick.md)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (server logs, data)")
	flag.BoolVar(&c.verbose, "v", false, "log every step")
	flag.BoolVar(&c.s3KeepAlive, "s3-keep-alive", false, "start versitygw with --keep-alive (the report is named <date>-webdav-s3keepalive.md)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/webdav [-quick] [-s3-keep-alive] [-out DIR] [-tmp DIR] [-keep] [-v]")
		os.Exit(2)
	}
	c.files, c.bigSize = 1000, 64<<20
	if c.quick {
		c.propHot, c.propCold, c.smallRounds, c.smallN, c.bigReps, c.moveReps = 10, 2, 2, 100, 1, 2
	} else {
		c.propHot, c.propCold, c.smallRounds, c.smallN, c.bigReps, c.moveReps = 50, 9, 5, 500, 5, 7
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	path, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/webdav:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "bench/webdav: recorded in", path)
}

// run sets everything up, measures, and writes the report; it returns the
// report's path.
func run(ctx context.Context, c config) (string, error) {
	started := time.Now()
	modRoot, err := moduleRoot()
	if err != nil {
		return "", err
	}
	outDir := c.out
	if !filepath.IsAbs(outDir) {
		// `go run` keeps the caller's directory; resolve before anything
		// changes it, and fail before a long run if it cannot be written.
		if outDir, err = filepath.Abs(outDir); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(c.tmp, "s3dfs-bench-webdav-")
	if err != nil {
		return "", err
	}
	lg := newLogger(c.verbose)
	defer func() {
		if c.keep {
			fmt.Fprintln(os.Stderr, "bench/webdav: work directory kept:", work)
			return
		}
		os.RemoveAll(work)
	}()

	env := collectEnv(modRoot, work, c)
	lab, err := newLab(ctx, c, modRoot, work, lg)
	if lab != nil {
		defer lab.Close()
	}
	if err != nil {
		return "", err
	}
	env.versions = lab.versions(ctx)
	env.loadBefore = loadAvg()

	res := newResults()
	steps := []struct {
		name string
		fn   func(context.Context, *results) error
	}{
		{"populate the 1 000-file folders", lab.populate},
		{"PROPFIND depth 1, hot", lab.propfindHot},
		{"PROPFIND depth 1, cold", lab.propfindCold},
		{"4 KiB PUT and GET", lab.small},
		{"64 MiB PUT and GET", lab.big},
		{"MOVE of a 1 000-file folder", lab.move},
	}
	for _, s := range steps {
		t0 := time.Now()
		env.phases = append(env.phases, phase{name: s.name, load: loadAvg()})
		lg.step("%s ...", s.name)
		if err := s.fn(ctx, res); err != nil {
			return "", fmt.Errorf("%s: %w", s.name, err)
		}
		env.phases[len(env.phases)-1].took = time.Since(t0)
		lg.step("%s: %.1f s", s.name, time.Since(t0).Seconds())
	}
	env.loadAfter = loadAvg()
	env.duration = time.Since(started)

	name := env.date.Format("2006-01-02") + "-webdav"
	if c.s3KeepAlive {
		name += "-s3keepalive"
	}
	if c.quick {
		name += "-quick"
	}
	path := filepath.Join(outDir, name+".md")
	var b strings.Builder
	writeReport(&b, c, env, res)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// logger prints progress on stderr: steps always, details with -v.
type logger struct {
	verbose bool
	start   time.Time
}

func newLogger(verbose bool) *logger { return &logger{verbose: verbose, start: time.Now()} }

func (l *logger) step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/webdav: [%5.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

func (l *logger) detail(format string, args ...any) {
	if l.verbose {
		l.step(format, args...)
	}
}
