package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// ifHeader is a parsed If header (RFC 4918, 10.4): lists of conditions,
// each list either untagged (about the request-URI) or tagged with the
// resource it is about. The header holds if any list holds.
type ifHeader struct {
	lists []ifList
}

type ifList struct {
	tag   string // a resource URL, or "" for the request-URI
	conds []ifCond
}

// ifCond is a state token (a lock token) or an entity tag, possibly
// negated.
type ifCond struct {
	not   bool
	token string // without the angle brackets
	etag  string // with its quotes (and W/ if weak)
}

// tokens returns the lock tokens the header submits: every state token in
// a condition that is not negated.
func (ih *ifHeader) tokens() []string {
	var out []string
	for _, l := range ih.lists {
		for _, c := range l.conds {
			if !c.not && c.token != "" && !slices.Contains(out, c.token) {
				out = append(out, c.token)
			}
		}
	}
	return out
}

// parseIf parses an If header; an absent header is nil.
func parseIf(s string) (*ifHeader, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	p := &ifParser{s: s}
	ih := &ifHeader{}
	tagged := -1 // unknown until the first list
	tag := ""
	for {
		p.space()
		if p.eof() {
			break
		}
		switch p.peek() {
		case '<':
			if tagged == 0 {
				return nil, errors.New("resource tag in an untagged If header")
			}
			tagged = 1
			v, err := p.delimited('<', '>')
			if err != nil {
				return nil, err
			}
			tag = v
			p.space()
			if p.eof() || p.peek() != '(' {
				return nil, errors.New("resource tag without a list")
			}
		case '(':
			if tagged == -1 {
				tagged = 0
			}
			l, err := p.list()
			if err != nil {
				return nil, err
			}
			l.tag = tag
			ih.lists = append(ih.lists, l)
		default:
			return nil, fmt.Errorf("unexpected %q", p.peek())
		}
	}
	if len(ih.lists) == 0 {
		return nil, errors.New("no lists")
	}
	return ih, nil
}

type ifParser struct {
	s   string
	pos int
}

func (p *ifParser) eof() bool  { return p.pos >= len(p.s) }
func (p *ifParser) peek() byte { return p.s[p.pos] }

func (p *ifParser) space() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

func (p *ifParser) delimited(open, close byte) (string, error) {
	if p.eof() || p.peek() != open {
		return "", fmt.Errorf("expected %q", open)
	}
	end := strings.IndexByte(p.s[p.pos+1:], close)
	if end < 0 {
		return "", fmt.Errorf("unterminated %q", open)
	}
	v := p.s[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	return v, nil
}

func (p *ifParser) list() (ifList, error) {
	var l ifList
	p.pos++ // '('
	for {
		p.space()
		if p.eof() {
			return l, errors.New("unterminated list")
		}
		if p.peek() == ')' {
			p.pos++
			if len(l.conds) == 0 {
				return l, errors.New("empty list")
			}
			return l, nil
		}
		var c ifCond
		if len(p.s)-p.pos >= 3 && strings.EqualFold(p.s[p.pos:p.pos+3], "not") {
			c.not = true
			p.pos += 3
			p.space()
			if p.eof() {
				return l, errors.New("Not without a condition")
			}
		}
		switch p.peek() {
		case '<':
			v, err := p.delimited('<', '>')
			if err != nil {
				return l, err
			}
			if v == "" {
				return l, errors.New("empty state token")
			}
			c.token = v
		case '[':
			v, err := p.delimited('[', ']')
			if err != nil {
				return l, err
			}
			if v == "" {
				return l, errors.New("empty entity tag")
			}
			c.etag = v
		default:
			return l, fmt.Errorf("unexpected %q in a list", p.peek())
		}
		l.conds = append(l.conds, c)
	}
}

// ifState is what conditions are evaluated against: a resource's etag and
// the tokens of the locks that cover it.
type ifState struct {
	exists bool
	etag   string
	tokens []string
}

// evalIf evaluates an If header. Tagged resources are mapped like a
// Destination; one that cannot be mapped, or is in a space the user may
// not see, matches no condition but "Not".
func (h *Handler) evalIf(q *davReq, ih *ifHeader) (bool, error) {
	states := map[string]*ifState{}
	for _, l := range ih.lists {
		st, ok := states[l.tag]
		if !ok {
			var err error
			if st, err = h.ifStateOf(q, l.tag); err != nil {
				return false, err
			}
			states[l.tag] = st
		}
		if st.matches(l.conds) {
			return true, nil
		}
	}
	return false, nil
}

func (st *ifState) matches(conds []ifCond) bool {
	for _, c := range conds {
		var ok bool
		if c.token != "" {
			ok = slices.Contains(st.tokens, c.token)
		} else {
			ok = st.exists && etagMatch(c.etag, st.etag)
		}
		if ok == c.not {
			return false
		}
	}
	return true
}

// etagMatch compares entity tags weakly: an If header names the state a
// client saw, and the weak flag does not change which state that was.
func etagMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

func (h *Handler) ifStateOf(q *davReq, tag string) (*ifState, error) {
	t := q.t
	if tag != "" {
		var err error
		t, err = h.mapURL(q.ctx, q.r.Host, q.t.User, tag)
		if err != nil {
			return &ifState{}, nil
		}
	}
	st := &ifState{}
	ri, err := h.fs.GetMD(q.ctx, t.Ref())
	switch {
	case err == nil:
		st.exists, st.etag = true, ri.Etag
		locks, err := h.fs.Locks(q.ctx, decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID})
		if err != nil {
			return nil, fail(err, opRead)
		}
		for _, l := range locks {
			st.tokens = append(st.tokens, l.Token)
		}
	case errors.Is(err, decomposedfs.ErrNotFound) || errors.Is(err, decomposedfs.ErrNotDir):
		// An unmapped URL is covered by the deep locks of its folder.
		locks, err := h.fs.Locks(q.ctx, t.ref(parent(t.Path)))
		if err != nil && !errors.Is(err, decomposedfs.ErrNotFound) && !errors.Is(err, decomposedfs.ErrNotDir) {
			return nil, fail(err, opRead)
		}
		for _, l := range locks {
			if l.Deep {
				st.tokens = append(st.tokens, l.Token)
			}
		}
	default:
		return nil, fail(err, opRead)
	}
	return st, nil
}

// mapURL maps a URL (absolute, or an absolute path) of this server, whose
// host is host, to a target the user may see. A URL of another host is
// errOtherServer; one of the trash bin or of a versions collection is
// errNotFiles.
func (h *Handler) mapURL(ctx context.Context, host, user, raw string) (*Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errBadPath
	}
	if u.Host != "" && !strings.EqualFold(u.Host, host) {
		return nil, errOtherServer
	}
	if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return nil, errBadPath
	}
	rt, err := h.route(u.EscapedPath())
	if err != nil {
		return nil, err
	}
	return h.authorize(ctx, rt, user)
}

// errOtherServer: a URL naming another host.
var errOtherServer = errors.New("server: URL of another server")
