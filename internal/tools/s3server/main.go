// Command s3server starts a local versitygw S3 server on a free loopback
// port for scripts (make test, make run): it writes the server's address and
// credentials as shell variable assignments to the file named by -env, then
// serves until it gets SIGINT or SIGTERM, and stops the server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3dfs/s3dfs/internal/s3test"
)

func main() {
	dir := flag.String("dir", "", "data directory of the server (required)")
	envFile := flag.String("env", "", "file to write S3DFS_S3_* assignments to (required)")
	flag.Parse()
	if *dir == "" || *envFile == "" {
		fmt.Fprintln(os.Stderr, "usage: s3server -dir DIR -env FILE")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := s3test.StartServer(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	env := fmt.Sprintf("S3DFS_S3_ENDPOINT=%s\nS3DFS_S3_ACCESS_KEY=%s\nS3DFS_S3_SECRET_KEY=%s\nS3DFS_S3_REGION=%s\n",
		srv.Endpoint, srv.AccessKey, srv.SecretKey, srv.Region)
	tmp := *envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o600); err == nil {
		err = os.Rename(tmp, *envFile)
	}
	if err != nil {
		srv.Stop()
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}
