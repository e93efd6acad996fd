package volprobe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// syncPeers brings the peer table up to date with a listing: new peers,
// peers that left, liveness; fetches the announcements it needs (new
// peers, challenged peers, and one peer in turn) and removes the traces of
// dead peers. It returns the peers whose files to look at in this round.
func (m *Monitor) syncPeers(ctx context.Context, l listing, now time.Time) map[string]bool {
	for id, mt := range l.peers {
		if id == m.self.id {
			continue
		}
		p := m.peers[id]
		if p == nil {
			m.peers[id] = &peer{id: id, isNew: true, modTime: mt, changed: now}
			continue
		}
		if !mt.Equal(p.modTime) {
			p.modTime, p.changed = mt, now
		}
	}
	for id, p := range m.peers {
		if _, ok := l.peers[id]; !ok {
			m.drop(ctx, p) // it left (or was found dead by another process)
		}
	}

	look := map[string]bool{}
	ids := sortedKeys(m.peers)
	if len(ids) > 0 {
		look[ids[m.rr%len(ids)]] = true
		m.rr++
	}
	for _, id := range ids {
		p := m.peers[id]
		if p.isNew {
			look[id] = true
		}
		if !look[id] && !p.challenged && p.ann != nil {
			continue
		}
		a, err := m.w.fetch(ctx, id)
		if err != nil {
			m.log.WarnContext(ctx, "volume probe: cannot read a peer's announcement", "peer", id, "err", err)
			delete(look, id)
			continue
		}
		if a == nil {
			m.drop(ctx, p)
			delete(look, id)
			continue
		}
		if p.ann != nil && a.Seq != p.ann.Seq {
			p.changed = now
		}
		p.ann, p.isNew = a, false
	}

	for _, id := range ids {
		p := m.peers[id]
		if p == nil {
			continue
		}
		dead := p.ann != nil && m.host.gone(p.ann)
		if !dead && now.Sub(p.changed) <= m.ttlFor(p.ann) {
			continue
		}
		m.bury(ctx, p, l, now)
		delete(look, id)
	}
	return look
}

// bury removes the traces of a dead peer: its announcement, the challenges
// to and from it, its files.
func (m *Monitor) bury(ctx context.Context, p *peer, l listing, now time.Time) {
	who := "process " + p.id
	if p.ann != nil {
		who = p.ann.who()
	}
	m.log.InfoContext(ctx, "volume probe: removing the traces of a process that stopped announcing itself", "peer", who, "silent", now.Sub(p.changed).Round(time.Millisecond))
	if err := m.w.store.Delete(ctx, m.w.peerKey(p.id)); err != nil {
		m.log.WarnContext(ctx, "volume probe: cannot remove a dead process's announcement", "peer", who, "err", err)
		return // try again next round, files stay until then
	}
	for _, c := range l.challenges {
		if c.target == p.id || c.challenger == p.id {
			m.w.store.Delete(ctx, m.w.challengeKey(c.target, c.challenger))
		}
	}
	removePeerFiles(m.self.dir, p.id)
	m.drop(ctx, p)
}

// drop forgets a peer that is gone, withdrawing this monitor's challenge.
func (m *Monitor) drop(ctx context.Context, p *peer) {
	if p.challenged {
		m.w.store.Delete(ctx, m.w.challengeKey(p.id, m.self.id))
	}
	m.forget(p)
}

// forget releases what this monitor holds of a peer and removes it from
// the table.
func (m *Monitor) forget(p *peer) {
	m.release(p)
	if p.kept != nil {
		p.kept.Close()
		p.kept = nil
	}
	delete(m.peers, p.id)
}

func (m *Monitor) release(p *peer) {
	if p.heldOFD && p.ann != nil {
		unlockOFD(m.self.probe, p.ann.Lock)
	}
	if p.heldFlock && p.kept != nil {
		unlockFlock(p.kept)
	}
	p.heldOFD, p.heldFlock = false, false
}

func (m *Monitor) stampOf(p *peer) string { return filepath.Join(m.self.dir, p.id) }
func (m *Monitor) recOf(p *peer) string   { return filepath.Join(m.self.dir, p.id+".rec") }

// keep opens the peer's stamp file if it is not open yet (or was replaced);
// a missing file leaves kept nil.
func (m *Monitor) keep(p *peer) {
	if p.kept != nil {
		return
	}
	f, err := os.Open(m.stampOf(p))
	if err == nil {
		p.kept = f
	}
}

// probeLocks tries the peer's lock byte and the flock of its stamp file:
// both must be refused. A grant is kept and challenged (see the package
// documentation); pending reports a challenge without an answer yet.
func (m *Monitor) probeLocks(ctx context.Context, p *peer, pr *PeerRound) (probs []Problem, pending bool) {
	m.release(p) // what a challenge held since the last round: probe afresh
	ofd, err := tryOFD(m.self.probe, p.ann.Lock)
	if err != nil {
		probs = append(probs, Problem{CheckOFDPeers, fmt.Sprintf("probe the lock of %s: %v", p.ann.who(), err)})
	}
	m.keep(p)
	fl := false
	if p.kept != nil {
		if fl, err = tryFlock(p.kept); err != nil {
			probs = append(probs, Problem{CheckFlockPeers, fmt.Sprintf("probe the flock of %s: %v", p.ann.who(), err)})
		}
	}
	pr.OFD, pr.Flock = grantState(ofd), grantState(fl)
	if p.kept == nil {
		pr.Flock = ""
	}
	if !ofd && !fl {
		if p.challenged {
			if err := m.w.store.Delete(ctx, m.w.challengeKey(p.id, m.self.id)); err == nil {
				p.challenged = false
			}
		}
		return probs, false
	}
	p.heldOFD, p.heldFlock = ofd, fl
	if !p.challenged {
		ch := challenge{Challenger: m.self.id, Host: m.host.name, PID: os.Getpid(), OFD: ofd, Flock: fl}
		if err := m.w.put(ctx, m.w.challengeKey(p.id, m.self.id), ch); err != nil {
			m.log.WarnContext(ctx, "volume probe: cannot write a challenge", "peer", p.ann.who(), "err", err)
		} else {
			p.challenged = true
		}
	}
	if !slices.Contains(p.ann.Acks, m.self.id) {
		return probs, p.challenged
	}
	pr.OFD, pr.Flock = confirmState(pr.OFD), confirmState(pr.Flock)
	return append(probs, m.confirmed(p)...), false
}

func grantState(granted bool) string {
	if granted {
		return "granted"
	}
	return "refused"
}

// confirmed: the peer answered a challenge, so it is alive and holds the
// locks that were granted to this monitor too.
func (m *Monitor) confirmed(p *peer) []Problem {
	var probs []Problem
	if p.heldOFD {
		probs = append(probs, Problem{CheckOFDPeers, fmt.Sprintf(
			"byte %d of %s/locks, held by %s, was granted to this process too: OFD locks are not exclusive across the processes sharing this root",
			p.ann.Lock, m.opts.Root, p.ann.who())})
	}
	if p.heldFlock {
		probs = append(probs, Problem{CheckFlockPeers, fmt.Sprintf(
			"the flock of %s, held by %s, was granted to this process too: flock is not exclusive across the processes sharing this root",
			m.stampOf(p), p.ann.who())})
	}
	return probs
}

// lookAt compares the peer's files with its announcement, looking again
// until they agree or until passes, and fails when they took longer than
// MaxStale.
func (m *Monitor) lookAt(ctx context.Context, p *peer, pr *PeerRound, until time.Time) *Problem {
	pr.Looked = true
	start := time.Now()
	var first []string
	for {
		m.keep(p)
		o, err := m.opts.look(m.stampOf(p), m.recOf(p), p.kept)
		if err == nil && p.kept != nil && o.fstatIno != o.statIno {
			// The peer recreated its stamp file: keep the new one.
			m.release(p)
			p.kept.Close()
			p.kept = nil
			continue
		}
		var lg []string
		if err != nil {
			lg = []string{err.Error()}
		} else {
			lg = lag(o, p.ann, p.kept != nil)
		}
		if len(lg) == 0 {
			if first != nil {
				pr.Stale = time.Since(start)
			}
			break
		}
		if first == nil {
			first = lg
		}
		if !time.Now().Before(until) {
			pr.Stale, pr.Capped = time.Since(start), true
			break
		}
		if sleepCtx(ctx, 5*time.Millisecond) != nil {
			return nil // closing
		}
	}
	if pr.Stale <= m.opts.MaxStale && !pr.Capped {
		return nil
	}
	// A peer that stopped meanwhile removed its files after its
	// announcement: not staleness.
	if a, err := m.w.fetch(ctx, p.id); err == nil && a == nil {
		pr.Looked = false
		return nil
	}
	shown := "showed after " + pr.Stale.Round(time.Millisecond).String()
	if pr.Capped {
		shown = "did not show within " + pr.Stale.Round(time.Millisecond).String()
	}
	var notFound string
	for _, s := range first {
		if strings.Contains(s, "no such file") {
			notFound = " (its files are not on this volume at all: is this the same root?)"
		}
	}
	return &Problem{CheckStaleness, fmt.Sprintf(
		"round %d of %s, announced in the witness, %s on this volume%s; allowed: %v (%s cache mode); at first look: %s",
		p.ann.Seq, p.ann.who(), shown, notFound, m.opts.MaxStale, modeName(m.opts.MaxStale), strings.Join(first, ", "))}
}

func modeName(maxStale time.Duration) string {
	if maxStale == 0 {
		return "strict"
	}
	return "relaxed"
}
