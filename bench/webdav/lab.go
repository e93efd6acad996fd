package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/internal/s3test"
)

// The buckets of the one versitygw, one per S3 peer so that no listing
// sees another peer's objects.
const (
	bucketS3DFS  = "bench-s3dfs"
	bucketRclone = "bench-rclone"
	bucketRaw    = "bench-raw"
)

// Folder names, the same on every server.
const (
	dirPropfind = "p1000"    // PROPFIND depth 1; never changed after populate
	dirMoveA    = "m1000"    // MOVE alternates between dirMoveA and dirMoveB
	dirMoveB    = "m1000-mv" //
	dirSmall    = "small"
	dirBig      = "big"
)

const benchUser = "bench"

// davServer is one WebDAV server under test.
type davServer struct {
	name string // short, for logs and the report
	// root is the URL of the collection below which the workloads run,
	// ending in "/". It changes when a restart picks a new port.
	root       string
	user, pass string // empty: no authentication
	// optionsURL is what the warm-up request of a cold measurement asks
	// for: the server's root, or the user's space for s3dfs, so that the
	// process has checked the password once but seen nothing of the folder.
	optionsURL string
	start      func(ctx context.Context) error // starts a fresh process, sets root
	p          *proc
}

// restart replaces the server's process by a fresh one on the same data.
// The client's idle connections go first: a fresh process has none, and
// Apache in one process would wait for an idle keep-alive connection
// before it stops.
func (l *lab) restart(ctx context.Context, s *davServer) error {
	l.http.CloseIdleConnections()
	s.p.stop()
	s.p = nil
	return s.start(ctx)
}

// lab is everything a run starts, and the clients that talk to it.
type lab struct {
	c       config
	modRoot string
	work    string
	lg      *logger

	s3   *s3test.Server
	s3c  s3test.Config
	mc   *minio.Client
	http *http.Client

	bin struct{ s3dfs, xnetdav, versitygw string }

	s3dfs, rclone, apache, xnet *davServer
}

// newLab starts versitygw and the four WebDAV servers, and fills the
// folders that the PROPFIND and MOVE workloads use. On error the returned
// lab (if not nil) must still be closed.
func newLab(ctx context.Context, c config, modRoot, work string, lg *logger) (*lab, error) {
	for _, tool := range []string{"rclone", "apache2"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (apt-get install -y rclone apache2): %w", tool, err)
		}
	}
	l := &lab{c: c, modRoot: modRoot, work: work, lg: lg, http: newHTTPClient()}
	vgw, err := s3test.FindVersityGW()
	if err != nil {
		return nil, err
	}
	l.bin.versitygw = vgw
	if c.s3KeepAlive {
		// s3test.StartServer has no option for it, but runs
		// $S3DFS_VERSITYGW: a wrapper adds the flag.
		wrapper := filepath.Join(work, "bin", "versitygw-keep-alive")
		if err := os.MkdirAll(filepath.Dir(wrapper), 0o755); err != nil {
			return nil, err
		}
		script := "#!/bin/sh\nexec '" + strings.ReplaceAll(vgw, "'", `'\''`) + "' --keep-alive \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			return nil, err
		}
		os.Setenv("S3DFS_VERSITYGW", wrapper)
	}

	lg.step("building s3dfs and xnetdav, starting versitygw")
	l.bin.s3dfs = filepath.Join(work, "bin", "s3dfs")
	l.bin.xnetdav = filepath.Join(work, "bin", "xnetdav")
	var g errgroup.Group
	g.Go(func() error { return goBuild(ctx, modRoot, l.bin.s3dfs, "./cmd/s3dfs") })
	g.Go(func() error { return goBuild(ctx, modRoot, l.bin.xnetdav, "./bench/webdav/cmd/xnetdav") })
	g.Go(func() error {
		dir := filepath.Join(work, "s3")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		s, err := s3test.StartServer(dir)
		if err != nil {
			return err
		}
		l.s3 = s
		return nil
	})
	if err := g.Wait(); err != nil {
		return l, err
	}
	l.s3c = s3test.Config{Endpoint: l.s3.Endpoint, AccessKey: l.s3.AccessKey, SecretKey: l.s3.SecretKey, Region: l.s3.Region}
	mc, err := l.s3c.Client()
	if err != nil {
		return l, err
	}
	l.mc = mc
	for _, b := range []string{bucketS3DFS, bucketRclone, bucketRaw} {
		if err := mc.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: l.s3c.Region}); err != nil {
			return l, fmt.Errorf("create bucket %s: %w", b, err)
		}
	}

	lg.step("writing the 1 000-file folders for rclone (S3), Apache and x/net/webdav (local)")
	if err := l.populateDirect(ctx); err != nil {
		return l, err
	}

	lg.step("starting s3dfs serve, rclone serve webdav, Apache, x/net/webdav")
	l.s3dfs, err = l.newS3DFS(ctx)
	if err != nil {
		return l, err
	}
	l.rclone = l.newRclone()
	l.apache, err = l.newApache()
	if err != nil {
		return l, err
	}
	l.xnet = l.newXnet()
	for _, s := range []*davServer{l.rclone, l.apache, l.xnet} {
		if err := s.start(ctx); err != nil {
			return l, err
		}
	}
	return l, nil
}

// Close stops every process the lab started.
func (l *lab) Close() {
	for _, s := range []*davServer{l.s3dfs, l.rclone, l.apache, l.xnet} {
		if s != nil {
			s.p.stop()
		}
	}
	if l.s3 != nil {
		if err := l.s3.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/webdav:", err)
		}
	}
}

// --- s3dfs --------------------------------------------------------------------

func (l *lab) newS3DFS(ctx context.Context) (*davServer, error) {
	root := filepath.Join(l.work, "s3dfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	pass := randomHex(12)
	// --init here and on serve: the first start creates the store.
	cmd := exec.CommandContext(ctx, l.bin.s3dfs, "user", "add", "--init", "--root", root, benchUser)
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("s3dfs user add: %w\n%s", err, out)
	}
	env := append(environWithout("S3DFS_S3_ENDPOINT", "S3DFS_S3_ACCESS_KEY", "S3DFS_S3_SECRET_KEY",
		"S3DFS_S3_REGION", "S3DFS_S3_BUCKET", "S3DFS_S3_TLS", "S3DFS_CONFIG"),
		"S3DFS_S3_ENDPOINT="+l.s3c.Endpoint,
		"S3DFS_S3_ACCESS_KEY="+l.s3c.AccessKey,
		"S3DFS_S3_SECRET_KEY="+l.s3c.SecretKey,
		"S3DFS_S3_REGION="+l.s3c.Region,
		"S3DFS_S3_BUCKET="+bucketS3DFS,
	)
	s := &davServer{name: "s3dfs", user: benchUser, pass: pass}
	s.start = func(ctx context.Context) error {
		p, url, err := startProc(ctx, "s3dfs serve", filepath.Join(l.work, "s3dfs.log"), "s3dfs: serving ", env,
			l.bin.s3dfs, "serve", "--init", "--root", root, "--blobstore", "s3", "--addr", "127.0.0.1:0", "--log-level", "warn")
		if err != nil {
			return err
		}
		s.p = p
		s.root = url + "dav/files/" + benchUser + "/"
		s.optionsURL = s.root
		return nil
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// --- rclone serve webdav --------------------------------------------------------

// rcloneArgs is the command line of `rclone serve webdav` without --addr;
// the S3 settings are in rcloneEnv. Everything else is rclone's default
// (no VFS cache, directory listings cached for 5 minutes).
func (l *lab) rcloneArgs(pass string) []string {
	return []string{"serve", "webdav", ":s3:" + bucketRclone,
		"--config", filepath.Join(l.work, "rclone.conf"),
		"--user", benchUser, "--pass", pass, "--log-level", "NOTICE"}
}

func (l *lab) rcloneEnv() []string {
	// This machine's AWS_CA_BUNDLE breaks rclone's S3 backend.
	return append(environWithout("AWS_CA_BUNDLE"),
		"RCLONE_S3_PROVIDER=Other",
		"RCLONE_S3_ENDPOINT=http://"+l.s3c.Endpoint,
		"RCLONE_S3_ACCESS_KEY_ID="+l.s3c.AccessKey,
		"RCLONE_S3_SECRET_ACCESS_KEY="+l.s3c.SecretKey,
		"RCLONE_S3_REGION="+l.s3c.Region,
		"RCLONE_S3_FORCE_PATH_STYLE=true",
	)
}

func (l *lab) newRclone() *davServer {
	s := &davServer{name: "rclone", user: benchUser, pass: randomHex(12)}
	os.WriteFile(filepath.Join(l.work, "rclone.conf"), nil, 0o600)
	s.start = func(ctx context.Context) error {
		return retryPort(ctx, func(addr string) (*proc, error) {
			p, _, err := startProc(ctx, "rclone serve webdav", filepath.Join(l.work, "rclone.log"), "",
				l.rcloneEnv(), "rclone", append(l.rcloneArgs(s.pass), "--addr", addr)...)
			if err != nil {
				return nil, err
			}
			s.p = p
			s.root = "http://" + addr + "/"
			s.optionsURL = s.root
			return p, l.waitReady(ctx, s)
		})
	}
	return s
}

// retryPort starts a server on a free port, and again on another if the
// port was taken between the check and the server's bind.
func retryPort(ctx context.Context, start func(addr string) (*proc, error)) error {
	var err error
	for range 3 {
		var addr string
		if addr, err = freeAddr(); err != nil {
			return err
		}
		var p *proc
		p, err = start(addr)
		if err == nil {
			return nil
		}
		p.stop()
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

// waitReady waits until the server answers an authenticated OPTIONS.
func (l *lab) waitReady(ctx context.Context, s *davServer) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := l.do(ctx, s, "OPTIONS", s.optionsURL, nil, nil)
		if err == nil && r.status < 500 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready in 30 s (status %d, %v):\n%s", s.name, r.status, err, tail(s.p.log, 20))
		}
		select {
		case <-s.p.exited:
			return fmt.Errorf("%s exited at start (%v):\n%s", s.name, s.p.err, tail(s.p.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// --- Apache httpd + mod_dav ---------------------------------------------------------

// apacheConf is a minimal, self-contained httpd configuration: one
// prefork process in the foreground (-X), mod_dav with the filesystem
// provider on DocumentRoot, no authentication, keep-alive without a
// request limit. Started as root, httpd serves as www-data, so DocumentRoot
// and the lock database belong to www-data.
const apacheConf = `ServerRoot {{dir}}
ServerName 127.0.0.1
Listen {{addr}}
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dav_module /usr/lib/apache2/modules/mod_dav.so
LoadModule dav_fs_module /usr/lib/apache2/modules/mod_dav_fs.so
{{user}}
PidFile {{dir}}/run/httpd.pid
DefaultRuntimeDir {{dir}}/run
Mutex file:{{dir}}/run default
ErrorLog {{dir}}/error.log
LogLevel warn
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
DocumentRoot {{dir}}/docroot
DavLockDB {{dir}}/run/DavLock
<Directory />
  AllowOverride None
  Require all granted
  Dav On
</Directory>
`

func (l *lab) newApache() (*davServer, error) {
	dir := filepath.Join(l.work, "apache")
	userLine := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("www-data")
		if err != nil {
			return nil, fmt.Errorf("apache: running as root needs the user www-data: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		userLine = "User www-data\nGroup www-data"
		// www-data must be able to reach DocumentRoot through the work
		// directory, which MkdirTemp made private.
		if err := os.Chmod(l.work, 0o711); err != nil {
			return nil, err
		}
		for _, d := range []string{dir, filepath.Join(dir, "run"), filepath.Join(dir, "docroot")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		if err := chownTree(filepath.Join(dir, "docroot"), uid, gid); err != nil {
			return nil, err
		}
		if err := os.Chown(filepath.Join(dir, "run"), uid, gid); err != nil {
			return nil, err
		}
	}
	s := &davServer{name: "apache"}
	s.start = func(ctx context.Context) error {
		return retryPort(ctx, func(addr string) (*proc, error) {
			conf := strings.NewReplacer("{{dir}}", dir, "{{addr}}", addr, "{{user}}", userLine).Replace(apacheConf)
			confPath := filepath.Join(dir, "httpd.conf")
			if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			p, _, err := startProc(ctx, "apache2", filepath.Join(l.work, "apache2.log"), "", os.Environ(),
				"apache2", "-X", "-f", confPath)
			if err != nil {
				return nil, err
			}
			s.p = p
			s.root = "http://" + addr + "/"
			s.optionsURL = s.root
			return p, l.waitReady(ctx, s)
		})
	}
	return s, nil
}

func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// --- x/net/webdav ---------------------------------------------------------------------

func (l *lab) newXnet() *davServer {
	dir := filepath.Join(l.work, "xnet")
	s := &davServer{name: "x/net/webdav"}
	s.start = func(ctx context.Context) error {
		p, url, err := startProc(ctx, "xnetdav", filepath.Join(l.work, "xnetdav.log"), "xnetdav: serving ",
			os.Environ(), l.bin.xnetdav, "-dir", dir, "-addr", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.p = p
		s.root = url
		s.optionsURL = url
		return nil
	}
	return s
}

// --- content ------------------------------------------------------------------------------

// smallFile is the content of file i of the 1 000-file folders: 128 bytes.
func smallFile(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%07d\n", i)), 16)
}

func fileName(i int) string { return fmt.Sprintf("f%04d.txt", i) }

// populateDirect writes the PROPFIND and MOVE folders of the peers that
// are filled behind their backs: objects in rclone's bucket (before rclone
// starts, so that no listing of its is stale), files in Apache's and
// x/net/webdav's directories.
func (l *lab) populateDirect(ctx context.Context) error {
	for _, d := range []string{"apache/docroot", "xnet"} {
		for _, sub := range []string{dirPropfind, dirMoveA, dirSmall, dirBig} {
			if err := os.MkdirAll(filepath.Join(l.work, d, sub), 0o755); err != nil {
				return err
			}
		}
		for _, sub := range []string{dirPropfind, dirMoveA} {
			for i := 1; i <= l.c.files; i++ {
				if err := os.WriteFile(filepath.Join(l.work, d, sub, fileName(i)), smallFile(i), 0o644); err != nil {
					return err
				}
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, sub := range []string{dirPropfind, dirMoveA} {
		for i := 1; i <= l.c.files; i++ {
			g.Go(func() error {
				b := smallFile(i)
				_, err := l.mc.PutObject(gctx, bucketRclone, sub+"/"+fileName(i), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
				return err
			})
		}
	}
	return g.Wait()
}

// populate fills s3dfs's folders through its WebDAV interface, the only
// way in, and creates the folders of the PUT workloads on the WebDAV
// peers that need them.
func (l *lab) populate(ctx context.Context, _ *results) error {
	s := l.s3dfs
	for _, d := range []string{dirPropfind, dirMoveA, dirSmall, dirBig} {
		if _, err := l.expect(ctx, s, "MKCOL", s.root+d+"/", nil, nil, http.StatusCreated); err != nil {
			return err
		}
	}
	for _, d := range []string{dirSmall, dirBig} {
		if _, err := l.expect(ctx, l.rclone, "MKCOL", l.rclone.root+d+"/", nil, nil, http.StatusCreated); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, d := range []string{dirPropfind, dirMoveA} {
		for i := 1; i <= l.c.files; i++ {
			g.Go(func() error {
				_, err := l.expect(gctx, s, "PUT", s.root+d+"/"+fileName(i), smallFile(i), nil, http.StatusCreated)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every server must see the same folders before anything is measured.
	for _, srv := range l.davServers() {
		for _, d := range []string{dirPropfind, dirMoveA} {
			n, err := l.countMembers(ctx, srv, srv.root+d+"/")
			if err != nil {
				return err
			}
			if n != l.c.files {
				return fmt.Errorf("%s: %s has %d members, want %d", srv.name, d, n, l.c.files)
			}
		}
	}
	return nil
}

// davServers lists the WebDAV servers in their base order.
func (l *lab) davServers() []*davServer { return []*davServer{l.s3dfs, l.rclone, l.apache, l.xnet} }

// versions describes what was measured, for the report.
func (l *lab) versions(ctx context.Context) map[string]string {
	v := map[string]string{
		"s3dfs":  "built from this tree (" + l.modRoot + ")",
		"rclone": firstLine(output(l.work, "rclone", "version")),
		"apache": strings.TrimPrefix(firstLine(output(l.work, "apache2", "-v")), "Server version: "),
	}
	v["versitygw"] = "unknown"
	// Its --version says "git" for a module build; the module version is
	// in the binary's build information.
	for _, line := range strings.Split(output(l.work, "go", "version", "-m", l.bin.versitygw), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "mod" {
			v["versitygw"] = f[1] + " " + f[2]
		}
	}
	if l.c.s3KeepAlive {
		v["versitygw"] += ", posix backend, --keep-alive"
	} else {
		v["versitygw"] += ", posix backend, keep-alive off (its default; one TCP connection per S3 request)"
	}
	mods := output(l.modRoot, "go", "list", "-m", "github.com/minio/minio-go/v7", "golang.org/x/net")
	v["go modules"] = strings.ReplaceAll(mods, "\n", ", ")
	return v
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
