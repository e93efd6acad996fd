// Command xnetdav serves a local directory with golang.org/x/net/webdav and
// nothing else: no authentication, in-memory locks. It is the "plain Go
// WebDAV server" peer of the WebDAV benchmark (bench/webdav).
//
//	xnetdav -dir DIR [-addr 127.0.0.1:0]
//
// Once it listens it prints "xnetdav: serving URL" on stdout; it stops on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/net/webdav"
)

func main() {
	dir := flag.String("dir", "", "directory to serve (required)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free one)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: xnetdav -dir DIR [-addr HOST:PORT]")
		os.Exit(2)
	}
	if err := run(*dir, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "xnetdav:", err)
		os.Exit(1)
	}
}

func run(dir, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: &webdav.Handler{
			FileSystem: webdav.Dir(dir),
			LockSystem: webdav.NewMemLS(),
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("xnetdav: serving http://%s/\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
