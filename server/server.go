package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// Authenticator checks the credentials of a request and knows the groups
// of its users. Its methods must be safe for concurrent use.
type Authenticator interface {
	// Authenticate returns the user that r's Authorization header
	// authenticates. ok is false for missing, malformed or wrong
	// credentials (401); err is set when the check itself failed (500),
	// or was refused: an error with a method RetryAfter() time.Duration
	// answers 429 with that Retry-After.
	Authenticate(r *http.Request) (user string, ok bool, err error)
	// Groups returns the groups of an authenticated user (nil for none),
	// which the driver matches against grants to "group:NAME". An error
	// fails the request (500).
	Groups(user string) ([]string, error)
}

// Extension serves requests that WebDAV does not, on the same routes (TUS
// uploads to a folder, say). Extensions see authenticated, authorised
// requests only.
type Extension interface {
	// Match reports whether the extension serves r.
	Match(r *http.Request) bool
	// Serve serves r on the resolved target. Lock tokens of the request's
	// If header are in r's context (decomposedfs.WithLockTokens).
	Serve(w http.ResponseWriter, r *http.Request, t *Target)
	// Advertise adds the extension's headers to OPTIONS responses.
	Advertise(h http.Header)
}

// Options configure a Handler.
type Options struct {
	// Auth checks credentials; required.
	Auth Authenticator
	// AllowAnonymous lets requests without an Authorization header read
	// (OPTIONS, GET, HEAD, PROPFIND) every space; they cannot change
	// anything, and wrong credentials are still refused.
	AllowAnonymous bool
	// Logger gets one line per request and the problems the handler
	// cannot return; nil means slog.Default(). Wrap its handler with
	// NewLogHandler to get the request id on lines logged by others with
	// the request's context.
	Logger *slog.Logger
	// Registry gets the handler's metrics and is served on /metrics; nil
	// means a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// PropfindDepthLimit is how many levels a "Depth: infinity" PROPFIND
	// may descend; deeper trees get 403 with DAV:propfind-finite-depth.
	// 0 refuses depth infinity altogether.
	PropfindDepthLimit int
	// PropfindMaxResponses bounds the responses of one depth-infinity
	// PROPFIND (403 beyond), so that one request cannot make the server
	// walk a whole space.
	PropfindMaxResponses int
	// MaxXMLBody bounds XML request bodies (413 beyond).
	MaxXMLBody int64
	// MaxHeaderBytes bounds the request header (431 beyond); also used by
	// NewHTTPServer.
	MaxHeaderBytes int
	// BodyIdleTimeout bounds the wait for each read of a request body: a
	// client that sends nothing for that long gets 408 and its connection
	// closed, and its request stores nothing (a TUS chunk keeps what
	// arrived). 0: no bound.
	BodyIdleTimeout time.Duration
	// ThrottleDelay is how long, at most, a login refused for too many
	// failures (429) waits before it is answered. 0: no wait.
	ThrottleDelay time.Duration
	// Extensions, tried in order before WebDAV.
	Extensions []Extension
	// Mounts serves other URL prefixes (say "/dav/uploads/") behind the
	// same authentication, logging and metrics; the handler gets the user
	// with UserFromContext, and the URL path with BasePath in front.
	Mounts map[string]http.Handler
	// BasePath is a path prefix ("/cloud") under which the server is
	// reached, as behind a reverse proxy that maps
	// https://example.com/cloud/ to it: requests are served with the prefix
	// and without it (a proxy that strips it), and every URL in a
	// response carries it. Empty: the server's root.
	BasePath string
	// TUS, if not nil, is the TUS handler the capabilities advertise.
	TUS *TUSSupport
	// UploadTTL is how long a chunked upload may stay unfinished; 0:
	// decomposedfs.DefaultUploadTTL.
	UploadTTL time.Duration
	// WriteGate, if set, is asked before every authenticated request that
	// may change something (every method but GET, HEAD, OPTIONS and
	// PROPFIND, on WebDAV, trash, versions and mounted URLs alike). An
	// error refuses the request with 503, Retry-After and the error's
	// Summary() (if it has one) as the body, and /readyz answers 503 while
	// it fails. s3dfs serve sets it to the volume probe's verdict.
	WriteGate func() error
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		PropfindDepthLimit:   16,
		PropfindMaxResponses: 100000,
		MaxXMLBody:           1 << 20,
		MaxHeaderBytes:       64 << 10,
		BodyIdleTimeout:      time.Minute,
		ThrottleDelay:        time.Second,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.Auth == nil:
		return errors.New("server: Options.Auth is required")
	case o.PropfindDepthLimit < 0:
		return fmt.Errorf("server: negative PropfindDepthLimit %d", o.PropfindDepthLimit)
	case o.PropfindMaxResponses < 1:
		return fmt.Errorf("server: PropfindMaxResponses %d, want at least 1", o.PropfindMaxResponses)
	case o.MaxXMLBody < 1024:
		return fmt.Errorf("server: MaxXMLBody %d, want at least 1024", o.MaxXMLBody)
	case o.MaxHeaderBytes < 4096:
		return fmt.Errorf("server: MaxHeaderBytes %d, want at least 4096", o.MaxHeaderBytes)
	case o.BodyIdleTimeout < 0 || o.ThrottleDelay < 0:
		return fmt.Errorf("server: negative BodyIdleTimeout %v or ThrottleDelay %v", o.BodyIdleTimeout, o.ThrottleDelay)
	}
	for p := range o.Mounts {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
			return fmt.Errorf("server: mount %q must start and end with '/'", p)
		}
	}
	if err := CheckBasePath(o.BasePath); err != nil {
		return err
	}
	if o.UploadTTL < 0 {
		return fmt.Errorf("server: negative UploadTTL %v", o.UploadTTL)
	}
	return nil
}

// CheckBasePath accepts "" or a path of plain segments that starts with
// '/', does not end with one, and is not itself a route of the server
// (see Options.BasePath).
func CheckBasePath(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("server: BasePath %q must start with '/' and not end with one", p)
	}
	segs, err := decodeSegments(p)
	if err != nil || "/"+strings.Join(segs, "/") != p {
		return fmt.Errorf("server: BasePath %q: want plain path segments, no escapes, no empty ones", p)
	}
	for _, s := range segs {
		if escapeSegment(s) != s {
			return fmt.Errorf("server: BasePath %q: segment %q needs escaping in a URL", p, s)
		}
	}
	switch segs[0] {
	case "dav", "remote.php", "ocs", "status.php", "healthz", "readyz", "metrics":
		return fmt.Errorf("server: BasePath %q would hide the server's own %s route", p, "/"+segs[0])
	}
	return nil
}

// Handler is the HTTP handler of s3dfs serve. It is safe for concurrent
// use.
type Handler struct {
	fs      *decomposedfs.FS
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	// metricsHandler serves /metrics.
	metricsHandler http.Handler
	// ensured holds the users whose personal space is known to exist.
	ensured sync.Map
}

// New returns the handler serving fs.
func New(fs *decomposedfs.FS, opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{fs: fs, opts: opts, log: opts.Logger, reg: opts.Registry}
	if h.log == nil {
		h.log = slog.Default()
	}
	if _, ok := h.log.Handler().(*logHandler); !ok {
		h.log = slog.New(NewLogHandler(h.log.Handler()))
	}
	if h.reg == nil {
		h.reg = prometheus.NewRegistry()
		h.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m, err := newMetrics(h.reg, fs)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	h.metricsHandler = promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelError)})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.observe(w, r, h.serve)
}

// serve routes a request once it has an id, a log and metrics.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if headerSize(r) > h.opts.MaxHeaderBytes {
		h.writeError(w, r, &httpError{status: http.StatusRequestHeaderFieldsTooLarge, err: errors.New("request header too large")})
		return
	}
	path, escaped := r.URL.Path, r.URL.EscapedPath()
	if bp := h.opts.BasePath; bp != "" {
		// Served with or without the prefix (see Options.BasePath).
		if rest, ok := strings.CutPrefix(escaped, bp); ok && (rest == "" || rest[0] == '/') {
			escaped = rest
			if escaped == "" {
				escaped = "/"
			}
			path = strings.TrimPrefix(path, bp)
			if path == "" {
				path = "/"
			}
		}
	}
	switch path {
	case "/healthz":
		writeText(w, http.StatusOK, "ok\n")
		return
	case "/readyz":
		h.ready(w, r)
		return
	case "/metrics":
		h.metricsHandler.ServeHTTP(w, r)
		return
	case "*":
		if r.Method == http.MethodOptions {
			h.writeOptionsHeaders(w, nil)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	if path == "/status.php" {
		h.status(w, r)
		return
	}
	if o, ok := ocsPaths[path]; ok {
		h.ocs(w, r, o.v2, o.user)
		return
	}
	if strings.HasPrefix(escaped, prefixOCUploads) {
		h.uploads(w, r, escaped)
		return
	}
	for prefix, mh := range h.opts.Mounts {
		if strings.HasPrefix(path, prefix) {
			user, groups, ok := h.authenticate(w, r, false)
			if !ok || h.writeRefused(w, r) {
				return
			}
			r = r.WithContext(withUser(r.Context(), user, groups))
			if bp := h.opts.BasePath; bp != "" {
				// Mounts see the prefixed path, whether the request
				// came with it or not.
				u := *r.URL
				u.Path, u.RawPath = bp+path, ""
				r.URL = &u
			}
			mh.ServeHTTP(w, r)
			return
		}
	}
	rt, err := h.route(escaped)
	switch {
	case errors.Is(err, errNoRoute):
		h.writeError(w, r, &httpError{status: http.StatusNotFound, err: err})
		return
	case err != nil:
		h.writeError(w, r, &httpError{status: http.StatusBadRequest, err: err})
		return
	}
	user, groups, ok := h.authenticate(w, r, readOnly(r.Method))
	if !ok || h.writeRefused(w, r) {
		return
	}
	if user != "" {
		r = r.WithContext(withUser(r.Context(), user, groups))
	}
	switch rt.kind {
	case routeTrashSpace, routeTrashUser:
		h.trashBin(w, r, rt, user)
		return
	case routeMeta:
		h.meta(w, r, rt, user)
		return
	}
	t, err := h.authorize(r.Context(), rt, user)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	t.Groups = groups
	h.dav(w, r, t)
}

// ready answers /readyz: the metadata volume and the blob store answer.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.fs.Ready(ctx); err != nil {
		h.log.WarnContext(r.Context(), "not ready", "err", err)
		writeText(w, http.StatusServiceUnavailable, "not ready\n")
		return
	}
	if h.opts.WriteGate != nil {
		if err := h.opts.WriteGate(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+gateSummary(err)+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

// writeRefused answers a request that may change something with 503 while
// the write gate is closed, and reports whether it did.
func (h *Handler) writeRefused(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.WriteGate == nil || readOnly(r.Method) {
		return false
	}
	err := h.opts.WriteGate()
	if err == nil {
		return false
	}
	setLogErr(r.Context(), err)
	w.Header().Set("Retry-After", retryAfter)
	writeText(w, http.StatusServiceUnavailable, "503 Service Unavailable: writes are refused: "+gateSummary(err)+"\n")
	return true
}

// gateSummary is what clients may read of a write gate's error: its
// Summary() if it has one (the details, with hosts and paths, go to the
// log).
func gateSummary(err error) string {
	if s, ok := err.(interface{ Summary() string }); ok {
		return s.Summary()
	}
	return "the server refuses writes for now"
}

// readOnly reports whether a method may be served to anonymous users.
func readOnly(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND":
		return true
	}
	return false
}

// authenticate checks the request's credentials and returns the user and
// the user's groups; on failure it has written the response. anonymousOK
// allows a request without credentials when the options allow anonymous
// access.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, anonymousOK bool) (string, []string, bool) {
	if r.Header.Get("Authorization") == "" && anonymousOK && h.opts.AllowAnonymous {
		return "", nil, true
	}
	user, ok, err := h.opts.Auth.Authenticate(r)
	var throttled interface{ RetryAfter() time.Duration }
	if errors.As(err, &throttled) {
		// Too many failed logins lately, for the name or from the address:
		// refused before the password was looked at. The answer waits a
		// little (at most ThrottleDelay): a client that ignores Retry-After
		// then costs an idle connection, not a core.
		wait := min(throttled.RetryAfter(), h.opts.ThrottleDelay)
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		secs := max(1, int64(math.Ceil(throttled.RetryAfter().Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		h.writeError(w, r, &httpError{status: http.StatusTooManyRequests, err: err})
		return "", nil, false
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("server: authenticate: %w", err))
		return "", nil, false
	}
	if !ok {
		h.writeError(w, r, &httpError{status: http.StatusUnauthorized, err: errors.New("missing or wrong credentials")})
		return "", nil, false
	}
	setLogUser(r.Context(), user)
	groups, err := h.opts.Auth.Groups(user)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("server: groups of %s: %w", user, err))
		return "", nil, false
	}
	return user, groups, true
}

// errHidden is the one answer for a space that does not exist and a space
// the user may not see.
var errHidden = &httpError{status: http.StatusNotFound, err: errors.New("no such space")}

// authorize resolves a file route to a space the user may see. Every way
// of not seeing a space gives errHidden. Which spaces a user sees is the
// driver's answer (GetSpace, under the request's user and groups): those
// the user owns or is a member of (a grant on the space root). A user
// whose grants lie only below the root does not see the space itself, but
// may use the URLs of what the grants open: such a request gets in when
// the user may see the resource or the nearest folder above it that
// exists, and the driver decides the rest.
func (h *Handler) authorize(ctx context.Context, rt route, user string) (*Target, error) {
	t := &Target{User: user, Path: rt.path, Base: rt.base}
	var sid string
	switch rt.kind {
	case routeWebDAV:
		if user == "" {
			return nil, &httpError{status: http.StatusUnauthorized, err: errors.New("anonymous request for a personal space")}
		}
		sid = decomposedfs.PersonalSpaceID(user)
		if err := h.ensurePersonal(ctx, user); err != nil {
			return nil, err
		}
	case routeFiles:
		if user == "" {
			// Anonymous readers see spaces by id only: a personal
			// space's URL names its user, and needs that user.
			return nil, &httpError{status: http.StatusUnauthorized, err: errors.New("anonymous request for a personal space")}
		}
		if rt.name != user {
			return nil, errHidden
		}
		sid = decomposedfs.PersonalSpaceID(rt.name)
		if err := h.ensurePersonal(ctx, user); err != nil {
			return nil, err
		}
	case routeSpaces:
		sid = strings.ToLower(rt.name)
	default:
		return nil, errNotFiles
	}
	si, err := h.fs.GetSpace(ctx, sid)
	switch {
	case errors.Is(err, decomposedfs.ErrNotFound) && user != "":
		// Perhaps a grant below the root.
		if ok, err := h.reachable(ctx, sid, rt.path); err != nil || !ok {
			return nil, errOr(err, errHidden)
		}
		si = &decomposedfs.SpaceInfo{ID: sid}
	case errors.Is(err, decomposedfs.ErrNotFound) || errors.Is(err, decomposedfs.ErrInvalidRef):
		return nil, errHidden
	case err != nil:
		return nil, err
	case user == "" && !si.Disabled.IsZero():
		return nil, errHidden // anonymous readers never see a disabled space
	}
	t.Space = si
	return t, nil
}

// errOr returns err, or def when err is nil.
func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// reachable reports whether the user may see the resource at p of a space
// whose root the user may not see, or, for an unmapped URL, the nearest
// folder above it that exists. It costs one lookup per level climbed, and
// only for requests that would otherwise be 404.
func (h *Handler) reachable(ctx context.Context, sid, p string) (bool, error) {
	for {
		_, err := h.fs.GetMD(ctx, decomposedfs.Reference{SpaceID: sid, Path: p})
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, decomposedfs.ErrInvalidRef):
			return false, nil
		case !errors.Is(err, decomposedfs.ErrNotFound) && !errors.Is(err, decomposedfs.ErrNotDir):
			return false, err
		case p == "/":
			return false, nil
		}
		p = parent(p)
	}
}

// errNotFiles: a URL of the trash bin or of a versions collection where
// only a file URL will do (a Destination, say).
var errNotFiles = errors.New("server: not a URL of files")

// ensurePersonal creates a user's personal space on the user's first
// login (idempotent across processes: the id is fixed).
func (h *Handler) ensurePersonal(ctx context.Context, user string) error {
	if _, ok := h.ensured.Load(user); ok {
		return nil
	}
	_, err := h.fs.EnsureSpace(ctx, decomposedfs.SpaceSpec{
		ID: decomposedfs.PersonalSpaceID(user), Type: decomposedfs.SpacePersonal, Name: user, Owner: user,
	})
	if err != nil {
		return fmt.Errorf("server: personal space of %s: %w", user, err)
	}
	h.ensured.Store(user, struct{}{})
	return nil
}

// headerSize is the size of the request header as the client sent it,
// near enough.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

type userKey struct{}

// withUser names the request's user and the user's groups, for the server
// and for the driver, which checks the user's permissions on every
// operation (and lets lock tokens count only for their owner).
func withUser(ctx context.Context, user string, groups []string) context.Context {
	return decomposedfs.WithUser(context.WithValue(ctx, userKey{}, user), user, groups...)
}

// UserFromContext returns the authenticated user of a request served by
// a mount ("" for anonymous).
func UserFromContext(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}
