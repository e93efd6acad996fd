package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// propUpdate is one property instruction of a PROPPATCH: set (with a
// value) or remove.
type propUpdate struct {
	name   propName
	remove bool
	value  string // encoded for storage (encodeDead)
}

// parsePropertyUpdate parses a PROPPATCH body into its instructions, in
// document order (RFC 4918, 9.2: they are applied in that order).
func parsePropertyUpdate(body []byte) ([]propUpdate, error) {
	if len(body) == 0 {
		return nil, errorf(http.StatusBadRequest, "PROPPATCH without a body")
	}
	root, err := parseXML(body)
	if err != nil {
		return nil, err
	}
	if !root.is(nsDAV, "propertyupdate") {
		return nil, errorf(http.StatusBadRequest, "PROPPATCH body is not DAV:propertyupdate")
	}
	var ups []propUpdate
	for _, e := range root.elems() {
		remove := e.is(nsDAV, "remove")
		if !remove && !e.is(nsDAV, "set") {
			continue
		}
		for _, prop := range e.elems() {
			if !prop.is(nsDAV, "prop") {
				continue
			}
			for _, p := range prop.elems() {
				u := propUpdate{name: propName{ns: p.name.Space, local: p.name.Local}, remove: remove}
				if !remove {
					u.value = encodeDead(innerXML(p), p.lang)
				}
				ups = append(ups, u)
			}
		}
	}
	if len(ups) == 0 {
		return nil, errorf(http.StatusBadRequest, "PROPPATCH without properties")
	}
	return ups, nil
}

// favoriteProp is ownCloud's favourite flag: a live property that
// PROPPATCH may set ("1" or "true" marks, anything else or remove
// unmarks). It is per user, and needs no more than seeing the resource.
var favoriteProp = propName{nsOC, "favorite"}

// proppatch sets and removes dead properties (and oc:favorite), all or
// nothing: if any instruction fails (a live property is protected), none
// is applied and the others are reported as 424 Failed Dependency.
func (h *Handler) proppatch(q *davReq) error {
	body, err := readXMLBody(q.r, h.opts.MaxXMLBody)
	if err != nil {
		return err
	}
	ups, err := parsePropertyUpdate(body)
	if err != nil {
		return err
	}
	ri, err := h.fs.GetMD(q.ctx, q.t.Ref())
	if err != nil {
		return fail(err, opRead)
	}
	// The final state of each property, by applying the instructions in
	// order; names keep the order of their first appearance.
	var names []propName
	final := map[propName]*propUpdate{}
	var protected []propName
	for i := range ups {
		u := &ups[i]
		if _, ok := final[u.name]; !ok {
			names = append(names, u.name)
			if _, live := liveProps[u.name]; live && u.name != favoriteProp {
				protected = append(protected, u.name)
			}
		}
		final[u.name] = u
	}
	href := q.t.Href(ri.Path, ri.IsDir())
	if len(protected) > 0 {
		return writePatchResult(q, href, names, func(pn propName) (int, string) {
			for _, p := range protected {
				if p == pn {
					return http.StatusForbidden, "cannot-modify-protected-property"
				}
			}
			return http.StatusFailedDependency, ""
		})
	}
	set := map[string]string{}
	var remove []string
	favorite, setFavorite := false, false
	for _, pn := range names {
		u := final[pn]
		switch {
		case pn == favoriteProp:
			setFavorite = true
			inner, _ := decodeDead(u.value)
			v := strings.TrimSpace(inner)
			favorite = !u.remove && (v == "1" || strings.EqualFold(v, "true"))
		case u.remove:
			remove = append(remove, pn.clark())
		default:
			set[pn.clark()] = u.value
		}
	}
	if setFavorite && q.t.User == "" {
		return errorf(http.StatusForbidden, "favourites belong to a user")
	}
	// The dead properties first: they need more permissions than the
	// favourite, so a refusal comes before anything changed.
	if len(set) > 0 || len(remove) > 0 {
		_, err = h.fs.SetProps(q.ctx, q.t.Ref(), set, remove)
		switch {
		case errors.Is(err, decomposedfs.ErrTooLarge):
			return writePatchResult(q, href, names, func(pn propName) (int, string) {
				if final[pn].remove || pn == favoriteProp {
					return http.StatusFailedDependency, ""
				}
				return http.StatusInsufficientStorage, ""
			})
		case err != nil:
			return fail(err, opRead)
		}
	}
	if setFavorite {
		ref := decomposedfs.Reference{SpaceID: ri.SpaceID, NodeID: ri.ID}
		if err := h.fs.SetFavorite(q.ctx, ref, favorite); err != nil {
			return fail(err, opRead)
		}
	}
	return writePatchResult(q, href, names, func(propName) (int, string) { return http.StatusOK, "" })
}

func writePatchResult(q *davReq, href string, names []propName, status func(propName) (int, string)) error {
	var stats []propstat
	for _, pn := range names {
		code, cond := status(pn)
		i := 0
		for i < len(stats) && (stats[i].status != code || stats[i].cond != cond) {
			i++
		}
		if i == len(stats) {
			stats = append(stats, propstat{status: code, cond: cond})
		}
		stats[i].names = append(stats[i].names, pn)
	}
	ms := newMSWriter(q.w)
	if err := ms.names(href, stats...); err != nil {
		return err
	}
	return ms.close()
}
