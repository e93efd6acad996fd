package server

import (
	"errors"
	"net/http"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

type propfindKind uint8

const (
	findAllprop propfindKind = iota
	findPropname
	findProp
)

// propfindReq is a parsed PROPFIND body.
type propfindReq struct {
	kind propfindKind
	// props: the properties of <prop>, or those of <include> with allprop.
	props []reqProp
}

// parsePropfind parses a PROPFIND body; an empty body is allprop (RFC
// 4918, 9.1). Unknown elements are ignored, as the RFC asks.
func parsePropfind(body []byte) (*propfindReq, error) {
	if len(body) == 0 {
		return &propfindReq{kind: findAllprop}, nil
	}
	root, err := parseXML(body)
	if err != nil {
		return nil, err
	}
	if !root.is(nsDAV, "propfind") {
		return nil, errorf(http.StatusBadRequest, "PROPFIND body is not DAV:propfind")
	}
	var pf *propfindReq
	var include []propName
	for _, e := range root.elems() {
		switch {
		case e.name.Space != nsDAV:
		case e.name.Local == "allprop" && pf == nil:
			pf = &propfindReq{kind: findAllprop}
		case e.name.Local == "propname" && pf == nil:
			pf = &propfindReq{kind: findPropname}
		case e.name.Local == "prop" && pf == nil:
			pf = &propfindReq{kind: findProp, props: resolveProps(namesOf(e))}
		case e.name.Local == "include":
			include = append(include, namesOf(e)...)
		}
	}
	if pf == nil {
		return nil, errorf(http.StatusBadRequest, "PROPFIND without allprop, propname or prop")
	}
	if pf.kind == findAllprop {
		pf.props = resolveProps(include)
	}
	return pf, nil
}

func namesOf(e *xnode) []propName {
	var out []propName
	for _, k := range e.elems() {
		out = append(out, propName{ns: k.name.Space, local: k.name.Local})
	}
	return out
}

// readPropfind reads a PROPFIND request: its Depth (0, 1 or infinity as
// -1, which is also the default) and its body (empty: allprop).
func (h *Handler) readPropfind(r *http.Request) (int, *propfindReq, error) {
	d, err := depth(r, -1, 0, 1, -1)
	if err != nil {
		return 0, nil, err
	}
	body, err := readXMLBody(r, h.opts.MaxXMLBody)
	if err != nil {
		return 0, nil, err
	}
	pf, err := parsePropfind(body)
	if err != nil {
		return 0, nil, err
	}
	return d, pf, nil
}

// propfind answers PROPFIND with a multistatus of the target and, by the
// Depth header, its children or its whole subtree.
func (h *Handler) propfind(q *davReq) error {
	d, pf, err := h.readPropfind(q.r)
	if err != nil {
		return err
	}
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	if err != nil {
		return fail(err, opRead)
	}
	infos := []*decomposedfs.ResourceInfo{ri}
	switch {
	case d == 1 && ri.IsDir():
		l, err := h.fs.ListFolder(q.ctx, decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID})
		if err != nil {
			return fail(err, opRead)
		}
		h.reportProblems(q, l)
		infos = append(infos, l.Children...)
	case d == -1 && ri.IsDir():
		if infos, err = h.walk(q, ri); err != nil {
			return err
		}
	}

	ms := newMSWriter(q.w)
	res := &resource{t: q.t, h: h, ctx: q.ctx}
	for _, info := range infos {
		res.ri, res.root = info, info.ID == info.SpaceID
		if err := ms.resource(q.t.Href(info.Path, info.IsDir()), res, pf); err != nil {
			return err
		}
	}
	return ms.close()
}

func (h *Handler) reportProblems(q *davReq, l *decomposedfs.Listing) {
	if len(l.Problems) > 0 {
		p := l.Problems[0]
		h.log.WarnContext(q.ctx, "listing left out unreadable children; run s3dfs check",
			"folder", l.Folder.Path, "count", len(l.Problems), "first", p.Name, "err", p.Err)
	}
}

// errTooDeep answers a depth-infinity PROPFIND over the limits.
var errTooDeep = condError(http.StatusForbidden, "propfind-finite-depth", "PROPFIND depth infinity beyond the configured limits")

// walk lists the subtree below a folder, breadth first, within the
// configured depth and size limits.
func (h *Handler) walk(q *davReq, top *decomposedfs.ResourceInfo) ([]*decomposedfs.ResourceInfo, error) {
	limit := h.opts.PropfindDepthLimit
	if limit == 0 {
		return nil, errTooDeep
	}
	out := []*decomposedfs.ResourceInfo{top}
	level := []*decomposedfs.ResourceInfo{top}
	for d := 1; len(level) > 0; d++ {
		var next []*decomposedfs.ResourceInfo
		for _, dir := range level {
			l, err := h.fs.ListFolder(q.ctx, decomposedfs.Reference{SpaceID: dir.SpaceID, NodeID: dir.ID})
			if errors.Is(err, decomposedfs.ErrNotFound) {
				continue // gone while we walked
			}
			if err != nil {
				return nil, fail(err, opRead)
			}
			h.reportProblems(q, l)
			if len(l.Children) > 0 && d > limit {
				return nil, errTooDeep
			}
			for _, c := range l.Children {
				out = append(out, c)
				if c.IsDir() {
					next = append(next, c)
				}
			}
			if len(out) > h.opts.PropfindMaxResponses {
				return nil, errTooDeep
			}
		}
		level = next
	}
	return out, nil
}
