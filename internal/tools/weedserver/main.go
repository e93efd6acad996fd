// Command weedserver starts SeaweedFS (`weed mini`: S3 gateway and filer)
// on free loopback ports for scripts (make test-seaweedfs): it writes the
// S3 gateway's address and credentials, S3DFS_S3_SERVER=seaweedfs and the
// filer's address (S3DFS_WEED_FILER, for `weed mount`) as shell variable
// assignments to the file named by -env, then serves until it gets SIGINT
// or SIGTERM, and stops the server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3dfs/s3dfs/internal/weedtest"
)

func main() {
	dir := flag.String("dir", "", "data directory of the server (required)")
	envFile := flag.String("env", "", "file to write the S3DFS_* assignments to (required)")
	flag.Parse()
	if *dir == "" || *envFile == "" {
		fmt.Fprintln(os.Stderr, "usage: weedserver -dir DIR -env FILE")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "weedserver:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	m, err := weedtest.StartMini(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "weedserver:", err)
		os.Exit(1)
	}
	env := fmt.Sprintf("S3DFS_S3_ENDPOINT=%s\nS3DFS_S3_ACCESS_KEY=%s\nS3DFS_S3_SECRET_KEY=%s\nS3DFS_S3_REGION=%s\nS3DFS_S3_SERVER=seaweedfs\nS3DFS_WEED_FILER=%s\n",
		m.Endpoint, m.AccessKey, m.SecretKey, m.Region, m.Filer)
	tmp := *envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o600); err == nil {
		err = os.Rename(tmp, *envFile)
	}
	if err != nil {
		m.Stop()
		fmt.Fprintln(os.Stderr, "weedserver:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	if err := m.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "weedserver:", err)
		os.Exit(1)
	}
}
