package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
)

// BenchmarkLoginStorm: one good client (its login cached after the first
// request) sends PROPFIND Depth 0 requests while 32 others send wrong
// passwords as fast as they can, each from its own loopback address
// (127.0.0.2 ... 127.0.0.33), half for user names that exist and half for
// names that do not; passwords are bcrypt at the default cost (10), as
// `s3dfs user add` makes them. It reports the good client's latency
// percentiles and what the storm got.
//
//	go test ./server -run '^$' -bench LoginStorm -benchtime 10s
//
// quiet: no storm. storm: the defaults. storm-nodelay: the limits, but
// 429s answered at once. storm-unlimited: no limits and no bound on
// hashing, as before they existed. (The 33 clients run in the benchmark's
// process, on the server's cores: a storm from other machines costs the
// server less.)
func BenchmarkLoginStorm(b *testing.B) {
	for _, bc := range []struct {
		name   string
		storm  bool
		adjust func(*auth.Options)
		server func(*server.Options)
	}{
		{"quiet", false, nil, nil},
		{"storm", true, nil, nil},
		{"storm-nodelay", true, nil, func(o *server.Options) { o.ThrottleDelay = 0 }},
		{"storm-unlimited", true, func(o *auth.Options) { o.UserFailures, o.AddrFailures, o.MaxHashes = 0, 0, 0 }, nil},
	} {
		b.Run(bc.name, func(b *testing.B) { benchLoginStorm(b, bc.storm, bc.adjust, bc.server) })
	}
}

func benchLoginStorm(b *testing.B, storm bool, adjust func(*auth.Options), adjustServer func(*server.Options)) {
	root := b.TempDir()
	blobDir := filepath.Join(root, "blobs")
	ps, err := posix.New(blobDir, posix.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	usersPath := filepath.Join(root, "users.json")
	e := newEnvOn(b, root, ps, blobDir, func(o *server.Options) {
		o.Logger = slog.New(slog.DiscardHandler) // a line per request would pile up in memory
		ao := auth.DefaultOptions()
		if adjust != nil {
			adjust(&ao)
		}
		a, err := auth.NewAuthenticator(usersPath, ao)
		if err != nil {
			b.Fatal(err)
		}
		o.Auth = a
		if adjustServer != nil {
			adjustServer(o)
		}
	})
	const attackers = 32
	err = auth.NewFile(usersPath).Update(func(u *auth.Users) error {
		if err := u.Add("good", "good-password", bcrypt.DefaultCost); err != nil {
			return err
		}
		for i := range attackers / 2 {
			if err := u.Add(fmt.Sprintf("user%d", i), "their-password", bcrypt.DefaultCost); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	addr := e.srv.Listener.Addr().String()
	good := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	do := func(c *http.Client, user, pass string) int {
		hr, _ := http.NewRequest("PROPFIND", "http://"+addr+"/dav/files/"+user+"/", nil)
		hr.Header.Set("Depth", "0")
		hr.SetBasicAuth(user, pass)
		resp, err := c.Do(hr)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := do(good, "good", "good-password"); st != http.StatusMultiStatus {
		b.Fatalf("good login: %d", st)
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var unauthorized, throttled, other atomic.Int64
	if storm {
		for i := range attackers {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
			c := &http.Client{Transport: &http.Transport{
				DialContext:         (&net.Dialer{LocalAddr: local}).DialContext,
				MaxIdleConnsPerHost: 1,
			}}
			user := fmt.Sprintf("user%d", i) // user16 and up do not exist
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					switch do(c, user, fmt.Sprintf("guess-%d", n)) {
					case http.StatusUnauthorized:
						unauthorized.Add(1)
					case http.StatusTooManyRequests:
						throttled.Add(1)
					default:
						other.Add(1)
					}
				}
			})
		}
	}
	lat := make([]time.Duration, 0, b.N)
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if st := do(good, "good", "good-password"); st != http.StatusMultiStatus {
			b.Fatalf("good client: %d", st)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	stop()
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.9), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(unauthorized.Load())/elapsed.Seconds(), "401/s")
	b.ReportMetric(float64(throttled.Load())/elapsed.Seconds(), "429/s")
	if other.Load() > 0 {
		b.Errorf("the storm got %d answers that were neither 401 nor 429", other.Load())
	}
}
