package volprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

// The test binary doubles as the other process of the tests that need
// two: with VOLPROBE_TEST_ROLE set it runs that role instead of the tests.
const roleEnv = "VOLPROBE_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(s3test.Main(m))
	case "lock-helper":
		if err := ServeHelper(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "monitor":
		if err := runMonitorRole(os.Args[1], os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "unknown %s\n", roleEnv)
	os.Exit(2)
}

// roleRound is one round of the monitor role, as it reports it on stdout.
type roleRound struct {
	ID       string
	Problems []Problem
	Peers    []PeerRound
	Err      string
}

// runMonitorRole runs a monitor on root with a posix witness in witnessDir,
// reports every round as a JSON line on stdout, and closes the monitor
// when stdin ends.
func runMonitorRole(root, witnessDir string) error {
	w, err := posix.New(witnessDir, posix.DefaultOptions())
	if err != nil {
		return err
	}
	o := testOptions(root, w)
	enc := json.NewEncoder(os.Stdout)
	var id string
	rounds := make(chan Round, 1000)
	o.afterRound = func(r Round) { rounds <- r }
	m, err := Start(context.Background(), o)
	if err != nil {
		return err
	}
	id = m.ID()
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	for {
		select {
		case r := <-rounds:
			rr := roleRound{ID: id, Problems: r.Problems, Peers: r.Peers}
			if r.Err != nil {
				rr.Err = r.Err.Error()
			}
			enc.Encode(rr)
		case <-stop:
			return m.Close(context.Background())
		}
	}
}

// testOptions are fast rounds for tests.
func testOptions(root string, w blobstore.Store) Options {
	o := DefaultOptions(root, w)
	o.Interval = 20 * time.Millisecond
	o.Grace = 300 * time.Millisecond
	o.StaleCap = 300 * time.Millisecond
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return o
}

// posixWitness is a witness directory shared by the processes of a test.
func posixWitness(t *testing.T, dir string) blobstore.Store {
	t.Helper()
	w, err := posix.New(dir, posix.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startRole starts the test binary in a role and returns its command and
// the pipe that ends it when closed.
func startRole(t *testing.T, role string, args ...string) (*exec.Cmd, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, stdout
}

func newRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}
