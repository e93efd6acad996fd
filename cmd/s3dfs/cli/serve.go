package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server"
	"github.com/s3dfs/s3dfs/server/auth"
	"github.com/s3dfs/s3dfs/server/tus"
	"github.com/s3dfs/s3dfs/volprobe"
)

// serveConfig is the configuration of `s3dfs serve`.
type serveConfig struct {
	store          storeConfig
	addr           string
	users          string
	depthLimit     int
	allowAnonymous bool
	logFormat      choice
	logLevel       choice
	shutdownGrace  time.Duration
	maxXMLBody     byteSize
	maxHeader      byteSize
	bodyIdle       time.Duration
	trustedProxies []string
	configFile     string
	init           bool
	basePath       string
	uploadTTL      time.Duration
	// What one user may hold (decomposedfs.Options).
	maxLocks, maxUploads, maxGrants int
	maxLockOwner                    byteSize
	volumeProbe                     time.Duration
	volumeChecks                    choice
}

func (a *app) serveCommand() *cobra.Command {
	c := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the spaces over WebDAV",
		Long: `Serve the spaces of a root over WebDAV (ownCloud-flavoured):

  /dav/files/USER/PATH                the user's personal space (created on first login)
  /dav/spaces/SPACE-ID/PATH           a space the user owns, is a member of, or has a
                                      grant in (see 's3dfs share')
  /dav/trash-bin/USER/                the trash of the user's personal space
  /dav/spaces/trash-bin/SPACE-ID/     the trash of a space
  /dav/meta/FILE-ID/v/                the versions of a file (FILE-ID is its oc:fileid)
  /dav/uploads/                       TUS resumable uploads
  /remote.php/dav/...                 aliases of the /dav/ URLs above, for ownCloud clients
  /remote.php/webdav/PATH             the logged-in user's personal space
  /remote.php/dav/uploads/USER/       the desktop clients' chunked uploads
  /status.php  /ocs/v1.php/cloud/...  what the ownCloud and Nextcloud desktop clients
                                      read first: give them the server's URL
  /healthz  /readyz  /metrics         probes and Prometheus metrics (no login)

--base-path /cloud serves all of this under /cloud too (behind a proxy).

docs/http-api.md in the source tree is the reference of the HTTP API.

Users log in with HTTP Basic (password, or an app token as password) or a
bearer app token; manage them, and the groups they belong to, with 's3dfs
user'. With only --root, metadata and content both live under the root; the
S3 flags put the content in S3.

The root must hold a store that 's3dfs init' made, with the blob store it
recorded: the server refuses to start otherwise (a missing root, another
bucket, an emptied one), before it reads or changes anything. --init
creates the store (and a missing bucket) when the root is missing or empty,
and opens it like any other when it exists: what scripts that start a
server on a fresh directory want.

Configuration comes from flags, then environment variables, then a JSON
config file (--config FILE: an object of flag names to values), then the
defaults. ` + envHelp + `
The serve flags follow the same rule (--addr: S3DFS_ADDR).

Before it accepts writes, and then every --volume-probe-interval, the server
checks that the metadata volume gives what s3dfs needs, against every other
process on the root, with the blob store as the witness (see 's3dfs doctor').
While a check fails, writes get 503 and /readyz 503; reads go on
(--volume-checks warn only logs the failures).

On SIGINT or SIGTERM the server stops accepting requests, lets those in
flight finish for --shutdown-grace, then cancels them (an upload cancelled
that way leaves nothing behind) and exits.`,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, c) }),
	}
	f := cmd.Flags()
	c.store.addFlags(f)
	c.store.addCreateFlag(f)
	f.MarkHidden("space")
	f.BoolVar(&c.init, "init", false, "create the store if the root is missing or empty (see 's3dfs init')")
	def := server.DefaultOptions()
	c.logFormat = newChoice("text", "text", "json")
	c.logLevel = newChoice("info", "debug", "info", "warn", "error")
	c.maxXMLBody = byteSize(def.MaxXMLBody)
	c.maxHeader = byteSize(def.MaxHeaderBytes)
	f.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `ADDRESS` (host:port; port 0 picks a free one)")
	f.StringVar(&c.users, "users", "", "users `FILE` (default <root>/users.json)")
	f.IntVar(&c.depthLimit, "propfind-depth-limit", def.PropfindDepthLimit, "levels a Depth: infinity PROPFIND may descend (0: refuse depth infinity)")
	f.BoolVar(&c.allowAnonymous, "allow-anonymous", false, "let requests without credentials read (GET, HEAD, PROPFIND) every space")
	f.Var(&c.logFormat, "log-format", "log format")
	f.Var(&c.logLevel, "log-level", "lowest level logged (info: one line per request)")
	f.DurationVar(&c.shutdownGrace, "shutdown-grace", 30*time.Second, "how long requests in flight may finish on shutdown before they are cancelled")
	f.Var(&c.maxXMLBody, "max-xml-body", "largest XML request body (413 beyond)")
	f.Var(&c.maxHeader, "max-header", "largest request header (431 beyond)")
	f.StringSliceVar(&c.trustedProxies, "trusted-proxy", nil,
		"`CIDR` of a reverse proxy whose X-Forwarded-For names the client (the address failed logins count against); repeatable")
	f.DurationVar(&c.bodyIdle, "body-idle-timeout", def.BodyIdleTimeout, "longest a client may send no byte of a request body (408 beyond; 0: no limit)")
	f.StringVar(&c.configFile, "config", "", "JSON config `FILE`: {\"flag-name\": value, ...}")
	f.StringVar(&c.basePath, "base-path", "", "serve under this URL `PATH` too (\"/cloud\", behind a proxy): every URL in an answer carries it")
	f.DurationVar(&c.uploadTTL, "upload-ttl", decomposedfs.DefaultUploadTTL, "how long an unfinished resumable or chunked upload is kept before it is removed")
	fdef := decomposedfs.DefaultOptions()
	c.maxLockOwner = byteSize(fdef.MaxLockOwner)
	f.IntVar(&c.maxLocks, "max-locks-per-user", fdef.MaxLocksPerUser, "WebDAV locks one user may hold in one space (507 beyond)")
	f.IntVar(&c.maxUploads, "max-uploads-per-user", fdef.MaxUploadsPerUser, "uploads one user may have in progress in one space (507 beyond)")
	f.IntVar(&c.maxGrants, "max-grants-per-space", fdef.MaxGrantsPerSpace, "grants (shares) a space may hold")
	f.Var(&c.maxLockOwner, "max-lock-owner", "largest owner text of a LOCK (413 beyond)")
	c.volumeChecks = newChoice("enforce", "enforce", "warn")
	f.Var(&c.volumeChecks, "volume-checks", "enforce: refuse writes while the metadata volume fails its checks; warn: only log the failures (for measurements, or a failure judged harmless)")
	f.DurationVar(&c.volumeProbe, "volume-probe-interval", volprobe.DefaultOptions("", nil).Interval, "time between two checks of the metadata volume (three small requests to the blob store each)")
	return cmd
}

func (a *app) serve(cmd *cobra.Command, c *serveConfig) error {
	if err := applySources(cmd.Flags(), c.configFile); err != nil {
		return err
	}
	st, err := c.store.resolve(cmd.Flags())
	if err != nil {
		return err
	}
	if c.depthLimit < 0 {
		return usageErrorf("--propfind-depth-limit must not be negative")
	}
	if err := server.CheckBasePath(c.basePath); err != nil {
		return usageError(err)
	}
	if c.uploadTTL <= 0 {
		return usageErrorf("--upload-ttl must be positive")
	}
	st.fs.MaxLocksPerUser, st.fs.MaxUploadsPerUser, st.fs.MaxGrantsPerSpace = c.maxLocks, c.maxUploads, c.maxGrants
	st.fs.MaxLockOwner = int(c.maxLockOwner)
	if err := st.fs.Validate(); err != nil {
		return usageError(err)
	}
	ao := auth.DefaultOptions()
	for _, p := range c.trustedProxies {
		pfx, err := parsePrefix(p)
		if err != nil {
			return usageErrorf("--trusted-proxy %q: want an address or a CIDR (10.0.0.0/8)", p)
		}
		ao.TrustedProxies = append(ao.TrustedProxies, pfx)
	}
	if c.bodyIdle < 0 {
		return usageErrorf("--body-idle-timeout must not be negative")
	}
	logger := c.logger(a)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mode := mustExist
	if c.init {
		mode = createIfNew
	}
	stg, err := openServeStorage(cmd.Context(), st, logger, reg, mode)
	if err != nil {
		return err
	}
	defer stg.Close()
	vol, err := startVolumeProbe(cmd.Context(), st, c, logger)
	if err != nil {
		return err
	}
	defer vol.Close(context.WithoutCancel(cmd.Context()))

	usersPath := c.users
	if usersPath == "" {
		usersPath = filepath.Join(c.store.root, "users.json")
	}
	authn, err := auth.NewAuthenticator(usersPath, ao)
	if err != nil {
		return err
	}
	if u, err := auth.NewFile(usersPath).Load(); err == nil && len(u.Users) == 0 {
		logger.Warn("no users yet: add one with 's3dfs user add --users FILE NAME' (password on stdin)", "users", usersPath)
	}
	opts := server.DefaultOptions()
	opts.Auth = authn
	opts.AllowAnonymous = c.allowAnonymous
	opts.Logger = logger
	opts.Registry = reg
	opts.PropfindDepthLimit = c.depthLimit
	opts.MaxXMLBody = int64(c.maxXMLBody)
	opts.MaxHeaderBytes = int(c.maxHeader)
	opts.BasePath = c.basePath
	opts.UploadTTL = c.uploadTTL
	opts.BodyIdleTimeout = c.bodyIdle
	if c.volumeChecks.value == "enforce" {
		opts.WriteGate = vol.Err
	} else {
		logger.Warn("--volume-checks warn: the metadata volume's failures are only logged, writes are never refused for them")
	}
	// Resumable uploads (TUS): their own URLs under /dav/uploads/, and
	// ownCloud's POST to a folder URL. The handler sees the base path in
	// front (server.Options.Mounts), so its Locations carry it.
	var h *server.Handler
	topts := tus.DefaultOptions()
	topts.User, topts.Logger, topts.TTL = server.UserFromContext, logger, c.uploadTTL
	topts.BasePath = c.basePath + topts.BasePath
	topts.Permissions = func(ctx context.Context, ri *decomposedfs.ResourceInfo) string { return h.FilePermissions(ctx, ri) }
	uploads, err := tus.New(stg.fs, topts)
	if err != nil {
		return usageError(err)
	}
	opts.Mounts = map[string]http.Handler{"/dav/uploads/": uploads}
	opts.Extensions = append(opts.Extensions, tusExtension{uploads})
	opts.TUS = &server.TUSSupport{Version: tus.Version, Extensions: tus.Extensions()}
	if err := opts.Validate(); err != nil {
		return usageError(err)
	}
	h, err = server.New(stg.fs, opts)
	if err != nil {
		return err
	}
	// Unfinished uploads that ran out of time go, with their parts and
	// chunks and the quota they hold.
	go purgeUploads(cmd.Context(), stg.fs, c.uploadTTL, logger)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	logger.Info("serving", "url", url, "root", c.store.root, "blobstore", map[bool]string{true: "s3", false: "posix"}[st.useS3], "users", usersPath)
	fmt.Fprintf(a.stdout, "s3dfs: serving %s\n", url)
	sopts := server.DefaultServeOptions()
	sopts.MaxHeaderBytes = opts.MaxHeaderBytes
	sopts.ShutdownGrace = c.shutdownGrace
	sopts.OnShutdown = append(sopts.OnShutdown, func(ctx context.Context) { uploads.Shutdown(ctx) })
	err = server.Serve(cmd.Context(), ln, h, sopts)
	logger.Info("stopped")
	return err
}

// parsePrefix parses a CIDR, or a single address as the prefix of just it.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// startVolumeProbe starts the checks of the metadata volume; its first
// verdict is in before the server listens.
func startVolumeProbe(ctx context.Context, st settings, c *serveConfig, log *slog.Logger) (*volprobe.Monitor, error) {
	witness, err := openWitness(ctx, st)
	if err != nil {
		return nil, err
	}
	o := volprobe.DefaultOptions(c.store.root, witness)
	volumeOptions(&o, st)
	o.Interval, o.Logger = c.volumeProbe, log
	o.LogOnly = c.volumeChecks.value != "enforce"
	if err := o.Validate(); err != nil {
		return nil, usageErrorf("--volume-probe-interval: %v", err)
	}
	m, err := volprobe.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("volume probe: %w", err)
	}
	if m.Err() == nil {
		log.Info("the metadata volume passed its checks", "root", c.store.root, "every", o.Interval)
	}
	return m, nil
}

// logger builds the server's logger: text or JSON on stderr, with the
// request id of the context on every line.
func (c *serveConfig) logger(a *app) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(c.logLevel.value))
	hopts := &slog.HandlerOptions{Level: lv}
	var hd slog.Handler
	if c.logFormat.value == "json" {
		hd = slog.NewJSONHandler(a.stderr, hopts)
	} else {
		hd = slog.NewTextHandler(a.stderr, hopts)
	}
	return slog.New(server.NewLogHandler(hd))
}

// openServeStorage opens the stores like storeConfig.open, with the blob
// store's operations measured for /metrics.
func openServeStorage(ctx context.Context, st settings, log *slog.Logger, reg prometheus.Registerer, mode openMode) (*storage, error) {
	meta, blobs, err := openStores(ctx, st, log, mode)
	if err != nil {
		return nil, err
	}
	backend := "posix"
	if st.useS3 {
		backend = "s3"
	}
	m, err := newBlobMetrics(reg, backend)
	if err != nil {
		meta.Close()
		return nil, err
	}
	st.fs.Logger = log
	fs, err := decomposedfs.New(meta, meterBlobs(blobs, m), st.fs)
	if err != nil {
		meta.Close()
		return nil, err
	}
	return &storage{fs: fs, meta: meta}, nil
}

// tusExtension lets the WebDAV router hand TUS creation requests (a POST
// with Tus-Resumable to a folder URL, ownCloud's way) to the TUS handler.
type tusExtension struct{ *tus.Handler }

func (e tusExtension) Serve(w http.ResponseWriter, r *http.Request, t *server.Target) {
	e.ServeHTTP(w, r.WithContext(tus.WithTarget(r.Context(), t.User, t.Ref())))
}

// purgeUploads removes expired uploads now and then until ctx ends: every
// tenth of their lifetime, at most hourly.
func purgeUploads(ctx context.Context, fs *decomposedfs.FS, ttl time.Duration, log *slog.Logger) {
	t := time.NewTicker(min(max(ttl/10, time.Second), time.Hour))
	defer t.Stop()
	for {
		if n, err := fs.PurgeExpiredUploads(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purging expired uploads", "err", err)
		} else if n > 0 {
			log.Info("purged expired uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
