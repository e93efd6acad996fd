package tus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Options configure a Handler.
type Options struct {
	// BasePath is where uploads live: POST BasePath creates one, and
	// BasePath+{id} is an upload. It is a path that starts and ends with
	// '/', or an absolute URL ("https://cloud.example.com/dav/uploads/"),
	// in which case Location headers are that URL plus the id; a path gets
	// the scheme and host of the request (see TrustForwardedHeaders).
	BasePath string
	// MaxSize is the largest upload accepted (Tus-Max-Size); 0: no limit.
	MaxSize int64
	// TTL is how long an upload may stay incomplete (Upload-Expires); 0:
	// decomposedfs.DefaultUploadTTL.
	TTL time.Duration
	// TrustForwardedHeaders builds Location headers from X-Forwarded-Host,
	// X-Forwarded-Proto and Forwarded, for a handler behind a proxy that
	// sets them (and strips them from clients).
	TrustForwardedHeaders bool
	// User names the authenticated user of a request whose context has no
	// WithTarget: server.UserFromContext when the handler is mounted with
	// server.Options.Mounts, say. Nil: such requests have no user, and get
	// 403 (creation) or 404.
	User func(context.Context) string
	// FinishStranded commits, on the next HEAD or PATCH for it, an upload
	// that has all its bytes but was never committed because the process
	// that received the last byte died first (the client, seeing a
	// complete upload, sends nothing more). On by default: the driver's
	// FinishUpload claims a session under a lease, so a commit still under
	// way elsewhere answers "busy" instead of being repeated.
	FinishStranded bool
	// Logger receives tusd's warnings and the errors that a client sees as
	// a 500. Nil means slog.Default().
	Logger *slog.Logger
	// Permissions, if set, gives the user's permissions on a file an
	// upload became, as ownCloud's letters: the answer that commits a file
	// carries them as OC-Perm, which the ownCloud client reads instead of
	// asking with a PROPFIND. ctx is the request's.
	Permissions func(ctx context.Context, ri *decomposedfs.ResourceInfo) string
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{BasePath: "/dav/uploads/", FinishStranded: true}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	u, err := url.Parse(o.BasePath)
	if err != nil {
		return fmt.Errorf("tus: BasePath %q: %v", o.BasePath, err)
	}
	if u.IsAbs() && u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
		!strings.HasPrefix(u.Path, "/") || !strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("tus: BasePath %q: want a path (or an absolute URL) that starts and ends with '/'", o.BasePath)
	}
	if o.MaxSize < 0 {
		return fmt.Errorf("tus: MaxSize %d is negative", o.MaxSize)
	}
	if o.TTL < 0 {
		return fmt.Errorf("tus: TTL %v is negative", o.TTL)
	}
	return nil
}

// Handler serves TUS 1.0 uploads into a decomposedfs.FS. It is safe for
// concurrent use, and handlers in several processes may serve the same
// uploads (they live in the FS's shared stores).
type Handler struct {
	opts     Options
	basePath string // the path of opts.BasePath
	absBase  bool   // opts.BasePath is an absolute URL
	tusd     *handler.UnroutedHandler
	store    *store
	serve    http.Handler // tusd's protocol checks around route
	log      *slog.Logger

	mu       sync.Mutex
	closed   bool                  // guarded by mu: Shutdown was called
	inflight map[*request]struct{} // guarded by mu
	wg       sync.WaitGroup        // requests in flight
}

// New creates a Handler that stores uploads in fs.
func New(fs *decomposedfs.FS, opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	st := &store{fs: fs, ttl: opts.TTL, finishStranded: opts.FinishStranded, log: log, perms: opts.Permissions}
	comp := handler.NewStoreComposer()
	comp.UseCore(st)
	comp.UseTerminater(st)
	comp.UseLocker(newLocker())
	th, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer:           comp,
		BasePath:                opts.BasePath,
		MaxSize:                 opts.MaxSize,
		DisableDownload:         true,
		DisableConcatenation:    true,
		Cors:                    &handler.CorsConfig{Disable: true}, // the router's business, for every route alike
		RespectForwardedHeaders: opts.TrustForwardedHeaders,
		Logger:                  tusdLogger(log),
	})
	if err != nil {
		return nil, fmt.Errorf("tus: %w", err)
	}
	u, _ := url.Parse(opts.BasePath) // checked by Validate
	h := &Handler{opts: opts, store: st, basePath: u.Path, absBase: u.IsAbs(), tusd: th, log: log, inflight: map[*request]struct{}{}}
	h.serve = th.Middleware(http.HandlerFunc(h.route))
	return h, nil
}

type targetKey struct{}

type target struct {
	user   string
	folder decomposedfs.Reference
}

// WithTarget returns a context that tells the handler who the
// authenticated user is and, for creation, in which folder the new file
// goes. A zero folder means the root of the user's personal space
// (decomposedfs.PersonalSpaceID). The router calls it for every request it
// hands to the handler; the request's lock tokens, put in the context with
// decomposedfs.WithLockTokens, are honoured when the upload is created.
func WithTarget(ctx context.Context, user string, folder decomposedfs.Reference) context.Context {
	return context.WithValue(ctx, targetKey{}, target{user: user, folder: folder})
}

// Extensions the handler implements, for Tus-Extension.
const extensions = "creation,creation-with-upload,termination,checksum,expiration"

// Version is the TUS protocol version the handler speaks.
const Version = "1.0.0"

// Extensions lists the TUS extensions the handler implements (for a
// server's capabilities).
func Extensions() []string { return strings.Split(extensions, ",") }

// checksumAlgorithms are those Upload-Checksum may name.
const checksumAlgorithms = "sha1,md5"

// Advertise adds the TUS discovery headers that an OPTIONS response carries
// (for the router's OPTIONS on folders, where ownCloud clients look).
func (h *Handler) Advertise(hd http.Header) {
	hd.Set("Tus-Resumable", "1.0.0")
	hd.Set("Tus-Version", "1.0.0")
	hd.Set("Tus-Extension", extensions)
	hd.Set("Tus-Checksum-Algorithm", checksumAlgorithms)
	if h.opts.MaxSize > 0 {
		hd.Set("Tus-Max-Size", strconv.FormatInt(h.opts.MaxSize, 10))
	}
}

// Match reports whether r creates a TUS upload: a POST with a
// Tus-Resumable header. The router uses it to hand ownCloud-style creation
// requests, POSTed to a folder's URL, to the handler.
func (h *Handler) Match(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Tus-Resumable") != ""
}

// ServeHTTP serves POST (creation) on BasePath, or on any URL when the
// context names a folder (WithTarget), and OPTIONS, HEAD, PATCH and DELETE
// on BasePath+{id}. Requests must come authenticated: see WithTarget and
// Options.User.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		h.Advertise(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rq := &request{header: w.Header(), ocMtime: r.Header.Get("X-OC-Mtime"), ifMatch: strings.TrimSpace(r.Header.Get("If-Match"))}
	if t, ok := r.Context().Value(targetKey{}).(target); ok {
		rq.user = t.user
		if t.folder != (decomposedfs.Reference{}) {
			rq.folder = &t.folder
		}
	} else if h.opts.User != nil {
		rq.user = h.opts.User(r.Context())
	}
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, rq))
	if r.Body != nil && r.Body != http.NoBody {
		rq.body = &bodyWatch{rc: r.Body, ctl: http.NewResponseController(w)}
		r.Body = rq.body
	}
	if !h.enter(rq) {
		w.Header().Set("Tus-Resumable", "1.0.0")
		writeError(w, r, handler.ErrServerShutdown)
		return
	}
	defer h.leave(rq)
	h.serve.ServeHTTP(w, r)
}

// route runs after tusd's protocol checks (Tus-Resumable, method
// override) and before tusd's handlers.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	rq := requestFrom(r.Context())
	rq.method = r.Method
	switch r.Method {
	case http.MethodPost:
		if rq.folder == nil && strings.TrimSuffix(r.URL.Path, "/") != strings.TrimSuffix(h.basePath, "/") {
			writeError(w, r, handler.ErrNotFound)
			return
		}
		if err := rq.parseChecksum(r.Header); err != nil {
			writeError(w, r, err)
			return
		}
		rq.location = h.locationPrefix(r)
		h.tusd.PostFile(w, r)
	case http.MethodHead, http.MethodPatch, http.MethodDelete:
		id, ok := strings.CutPrefix(r.URL.Path, h.basePath)
		if !ok || id == "" || strings.Contains(id, "/") {
			writeError(w, r, handler.ErrNotFound)
			return
		}
		if r.Method == http.MethodPatch {
			if err := rq.parseChecksum(r.Header); err != nil {
				writeError(w, r, err)
				return
			}
		}
		// Only the owner gets as far as tusd's lock, which interrupts the
		// request holding it. (The store checks again, under the lock.)
		sess, err := h.store.owned(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if r.Method == http.MethodPatch && pastEnd(r, sess, rq.body) {
			// tusd answers 204 to any PATCH of a complete upload and
			// drops its bytes; bytes past Upload-Length are refused.
			writeError(w, r, handler.ErrSizeExceeded)
			return
		}
		// tusd takes the id from the whole path.
		r2 := r.WithContext(r.Context())
		u := *r.URL
		u.Path, u.RawPath = "/"+id, ""
		r2.URL = &u
		switch r.Method {
		case http.MethodHead:
			h.tusd.HeadFile(w, r2)
		case http.MethodPatch:
			h.tusd.PatchFile(w, r2)
		default:
			h.tusd.DelFile(w, r2)
		}
	default:
		w.Header().Set("Allow", "OPTIONS, POST, HEAD, PATCH, DELETE")
		writeError(w, r, errMethod)
	}
}

// pastEnd reports whether a PATCH brings bytes for an upload that has all
// its bytes already, at its final offset. (At another offset it is 409,
// which tusd answers.) A chunked body is looked at for one byte.
func pastEnd(r *http.Request, sess *decomposedfs.UploadSession, body *bodyWatch) bool {
	if sess.Offset != sess.Size || r.Header.Get("Upload-Offset") != strconv.FormatInt(sess.Size, 10) {
		return false
	}
	if r.ContentLength >= 0 || body == nil {
		return r.ContentLength > 0
	}
	var one [1]byte
	n, _ := io.ReadFull(body, one[:])
	return n > 0
}

var (
	reForwardedHost  = regexp.MustCompile(`host="?([^;"]+)`)
	reForwardedProto = regexp.MustCompile(`proto=(https?)`)
)

// locationPrefix is the URL that an upload's id is appended to. tusd
// builds the same for a successful creation; the store needs it to send
// Location also when the first chunk of a creation-with-upload fails, so
// that the client can resume.
func (h *Handler) locationPrefix(r *http.Request) string {
	if h.absBase {
		return h.opts.BasePath
	}
	proto, host := "http", r.Host
	if r.TLS != nil {
		proto = "https"
	}
	if h.opts.TrustForwardedHeaders {
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
		if v := r.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			proto = v
		}
		if v := r.Header.Get("Forwarded"); v != "" {
			if m := reForwardedHost.FindStringSubmatch(v); m != nil {
				host = m[1]
			}
			if m := reForwardedProto.FindStringSubmatch(v); m != nil {
				proto = m[1]
			}
		}
		host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443"}[proto])
	}
	return proto + "://" + host + h.basePath
}

// enter registers a request, unless the handler is shutting down.
func (h *Handler) enter(rq *request) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.inflight[rq] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Handler) leave(rq *request) {
	h.mu.Lock()
	delete(h.inflight, rq)
	h.mu.Unlock()
	h.wg.Done()
}

// Shutdown stops the handler: new requests get 503, and uploads in flight
// stop reading their bodies, keep what arrived (the client resumes it
// later, here or on another process) and answer 503. It returns when every
// request has been answered, or with ctx's error when ctx ends first. Call
// it before http.Server.Shutdown, which would otherwise wait for every
// upload to send its last byte.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	for rq := range h.inflight {
		rq.interrupt(handler.ErrServerShutdown)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tus: shutdown: %w", ctx.Err())
	}
}

var errMethod = handler.NewError("ERR_METHOD_NOT_ALLOWED", "method not allowed", http.StatusMethodNotAllowed)

// writeError answers with err as tusd would.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te handler.Error
	if !errors.As(err, &te) {
		te = handler.NewError("ERR_INTERNAL_SERVER_ERROR", "internal error", http.StatusInternalServerError)
	}
	for k, v := range te.HTTPResponse.Header {
		w.Header().Set(k, v)
	}
	body := te.HTTPResponse.Body
	if r.Method == http.MethodHead {
		body = ""
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(te.HTTPResponse.StatusCode)
	_, _ = w.Write([]byte(body))
}
