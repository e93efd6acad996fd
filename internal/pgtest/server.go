package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint tells a human how to get the server binaries.
const InstallHint = "install PostgreSQL (Debian: apt-get install postgresql, or run scripts/start-postgres.sh, " +
	"which installs it), or set S3DFS_PG_BIN to the directory holding initdb and postgres, " +
	"or S3DFS_PG_DSN to use an existing server"

// readyTimeout bounds how long StartServer waits for the server to accept
// connections.
const readyTimeout = 30 * time.Second

// FastSettings are the server settings of the test binary's server: no
// flushing at all, since what the tests check is semantics.
var FastSettings = []string{"fsync=off", "full_page_writes=off", "synchronous_commit=off"}

// Server is a postgres process listening on a loopback port, with its data
// directory below Dir.
type Server struct {
	// DSN connects to the "postgres" database as the superuser
	// "postgres" (trust authentication, no TLS).
	DSN     string
	Port    int
	Dir     string // holds data/ (the cluster), the socket and the log
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result; read only after exited is closed
}

// StartServer creates a cluster in dir (which must exist and be empty) and
// starts postgres on a free port of 127.0.0.1 with the given extra settings
// ("name=value", e.g. FastSettings), waiting until it accepts connections.
// The caller must call Stop. Running as root, the server runs as the user
// "postgres", and dir is given to that user.
func StartServer(dir string, settings ...string) (*Server, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := chownTree(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	out, err := run(cred, dir, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// Another process may take the free port before postgres binds it;
	// postgres then exits at once, and another port will do.
	for attempt := 1; ; attempt++ {
		s, err := startOnce(bin, dir, cred, settings)
		if err == nil || !errors.Is(err, errExited) || attempt == 3 {
			return s, err
		}
	}
}

var errExited = errors.New("exited before accepting connections")

func startOnce(bin, dir string, cred *syscall.Credential, settings []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Port:    port,
		Dir:     dir,
		LogPath: filepath.Join(dir, "postgres.log"),
		DSN:     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		exited:  make(chan struct{}),
	}
	log, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgtest: log file: %w", err)
	}
	defer log.Close() // the child holds its own descriptor
	args := []string{
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + dir,
		"-c", "max_connections=300",
	}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = log
	s.cmd.Stderr = log
	// Its own process group, so that Stop reaches the backends too; and
	// a parent-death signal, so that a crashed test binary does not leave
	// a server behind (the backends notice their postmaster's death).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		tail := s.LogTail(20)
		s.Stop()
		return nil, fmt.Errorf("pgtest: postgres on port %d: %w\n--- postgres log (tail) ---\n%s", port, err, tail)
	}
	return s, nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v (last: %v)", readyTimeout, err)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.err)
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown: SIGINT, which ends open
// sessions; SIGKILL to the process group after ten seconds). It leaves Dir
// alone. Stop is safe to call more than once.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	return nil
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// FindBinDir returns the directory holding initdb and postgres:
// $S3DFS_PG_BIN if set, else the directory of the initdb on $PATH (resolved
// through symlinks: postgres must come from the same installation), else
// the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if d := os.Getenv("S3DFS_PG_BIN"); d != "" {
		if err := hasServerBinaries(d); err != nil {
			return "", fmt.Errorf("pgtest: S3DFS_PG_BIN=%s: %w; %s", d, err, InstallHint)
		}
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if d := filepath.Dir(real); hasServerBinaries(d) == nil {
				return d, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if hasServerBinaries(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: initdb and postgres not found on $PATH nor in /usr/lib/postgresql/*/bin; %s", InstallHint)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasServerBinaries(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", filepath.Join(dir, name))
		}
	}
	return nil
}

// serverCredential returns the user to run the server as: nil (ourselves)
// unless we are root, whom initdb and postgres refuse.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, the server must run as the user postgres: %w; %s", err, InstallHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user postgres has uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("pgtest: hand %s to the postgres user: %w", p, err)
		}
		return nil
	})
}

// run runs a command as cred (nil: ourselves) and returns its output.
func run(cred *syscall.Credential, dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WithSearchPath returns dsn with search_path set to schema for every
// session. It understands both DSN forms: URLs ("postgres://...") and
// keyword/value strings ("host=... dbname=...").
func WithSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("pgtest: DSN: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// In a keyword/value string the last setting of a keyword wins.
	return strings.TrimSpace(dsn) + " search_path=" + schema, nil
}
