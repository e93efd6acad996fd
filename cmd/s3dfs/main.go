// Command s3dfs is the command-line front end of the s3dfs storage driver.
// Everything it does lives in package cli, so that tests can run commands
// in-process; main only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3dfs/s3dfs/cmd/s3dfs/cli"
)

func main() {
	// The first interrupt cancels the context, so an upload in flight is
	// abandoned cleanly (no node, no size change) instead of being cut off
	// mid-commit. The handler is then removed, so a second interrupt kills
	// a process that is stuck, say, reading a terminal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
