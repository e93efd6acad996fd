package volprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Round is what one round found.
type Round struct {
	// Seq is this process's sequence number in the round.
	Seq uint64
	// Problems are the round's failures (none: it passed).
	Problems []Problem
	// WitnessErr is set when the witness could not be read or written.
	WitnessErr error
	// Peers are the other processes looked at.
	Peers []PeerRound
	// Err is Monitor.Err after the round.
	Err error
	// Took is how long the round took.
	Took time.Duration
}

// PeerRound is what one round found about one peer.
type PeerRound struct {
	ID, Who string
	// VolumeOK is false when the peer announces another volume id.
	VolumeOK bool
	// OFD and Flock say what became of the probe of the peer's lock byte
	// and of its stamp file's flock: "refused" (as it must be), "granted"
	// (challenged, no answer yet) or "confirmed" (the live peer holds it
	// too); empty when not probed.
	OFD, Flock string
	// Looked is set when the peer's files were compared with its
	// announcement; Stale is how long they took to show it (0: at once),
	// Capped that they did not within StaleCap.
	Looked bool
	Stale  time.Duration
	Capped bool
}

// round is a Round plus whether it may change the verdict (false when the
// witness failed within its grace: no evidence either way).
type round struct {
	Round
	settled bool
}

func (m *Monitor) round(ctx context.Context, first bool) round {
	r := round{settled: true}
	r.Problems = slices.Clone(m.static)
	healed, err := m.self.heal()
	if err != nil {
		r.Problems = append(r.Problems, Problem{CheckOwnFiles, err.Error()})
	} else if healed {
		m.log.WarnContext(ctx, "volume probe: this process's stamp file was removed by another process (which took it for dead); recreated it", "file", m.self.stampPath())
	}
	if err := m.self.advance(); err != nil {
		r.Problems = append(r.Problems, Problem{CheckOwnFiles, err.Error()})
	}
	r.Seq = m.self.seq
	now := time.Now()
	l, err := m.w.list(ctx)
	if err != nil {
		return m.witnessFailed(r, now, err)
	}
	m.lastWitness = now
	if _, ok := l.peers[m.self.id]; !ok && m.announced && !healed {
		// Written in the last round and gone: the bucket lost objects,
		// unless another process took this one for dead (it then removed
		// the stamp file too, which heal noticed).
		r.Problems = append(r.Problems, Problem{CheckWitness, fmt.Sprintf(
			"this process's announcement %s, written in its last round, is gone from the bucket: the bucket lost objects (removed and created again? SeaweedFS creates a removed bucket again on the next write), so it no longer holds what s3dfs stored",
			m.w.peerKey(m.self.id))})
	}

	acks, probs := m.challengesAgainstMe(ctx, l)
	r.Problems = append(r.Problems, probs...)
	look := m.syncPeers(ctx, l, now)
	// Announce the round now: the volume shows it already, and the
	// challengers wait for the acknowledgements, which must not wait for
	// the looks below. The verdict in it is the last round's.
	m.me.Acks = acks
	if err := m.announce(ctx); err != nil {
		r.WitnessErr = err
	}
	// All looks of a round share one StaleCap, so that a round never
	// takes much longer than the interval plus StaleCap.
	lookUntil := time.Now().Add(m.opts.StaleCap)
	var pending []*peer
	for _, id := range sortedKeys(m.peers) {
		p := m.peers[id]
		if p.ann == nil {
			continue
		}
		pr := PeerRound{ID: p.id, Who: p.ann.who(), VolumeOK: p.ann.Volume == m.me.Volume}
		if !pr.VolumeOK {
			r.Problems = append(r.Problems, Problem{CheckVolumeID, fmt.Sprintf(
				"%s announces volume id %s, this root (%s) has %s: two metadata roots share this bucket, or the volume does not show the same files to both",
				p.ann.who(), p.ann.Volume, m.opts.Root, m.me.Volume)})
			r.Peers = append(r.Peers, pr)
			continue
		}
		probs, pendingNow := m.probeLocks(ctx, p, &pr)
		r.Problems = append(r.Problems, probs...)
		if pendingNow {
			pending = append(pending, p)
		}
		if look[p.id] {
			if prob := m.lookAt(ctx, p, &pr, lookUntil); prob != nil {
				r.Problems = append(r.Problems, *prob)
			}
		}
		r.Peers = append(r.Peers, pr)
	}
	if first && len(pending) > 0 {
		r.Problems = append(r.Problems, m.awaitAnswers(ctx, pending, r.Peers)...)
	}
	m.cleanOrphans(ctx, l, now)
	m.me.Failing = ""
	if len(r.Problems) > 0 {
		m.me.Failing = r.Problems[0].Check
	}
	return r
}

// witnessFailed: without the witness nothing can be proved either way.
// Within its grace the last verdict stands; after it, the volume is
// unverified.
func (m *Monitor) witnessFailed(r round, now time.Time, err error) round {
	r.WitnessErr = err
	if m.lastWitness.IsZero() || now.Sub(m.lastWitness) > m.ttlFor(nil) {
		since := "the start"
		if !m.lastWitness.IsZero() {
			since = m.lastWitness.Format(time.RFC3339)
		}
		r.Problems = append(r.Problems, Problem{CheckWitness, fmt.Sprintf("the witness (bucket) cannot be read since %s, so nothing proves the volume coherent: %v", since, err)})
		return r
	}
	if len(r.Problems) == 0 {
		r.settled = false
	}
	return r
}

// challengesAgainstMe finds the challenges to this process: each says that
// another process was granted a lock this process holds, so this volume's
// locks are not exclusive. They are acknowledged in the next announcement.
func (m *Monitor) challengesAgainstMe(ctx context.Context, l listing) (acks []string, probs []Problem) {
	for _, c := range l.challenges {
		if c.target != m.self.id {
			continue
		}
		acks = append(acks, c.challenger)
		who := "process " + c.challenger
		if p := m.peers[c.challenger]; p != nil && p.ann != nil {
			who = p.ann.who()
		}
		ch, err := m.readChallenge(ctx, c)
		switch {
		case err != nil:
			probs = append(probs, Problem{CheckOFDPeers, fmt.Sprintf("%s says it was granted a lock this process holds (its challenge is unreadable: %v)", who, err)})
		case ch == nil:
			// Withdrawn since the listing: the lock was refused again.
		default:
			if p := m.peers[c.challenger]; p == nil || p.ann == nil {
				who = fmt.Sprintf("a process on %s (pid %d)", ch.Host, ch.PID)
			}
			if ch.OFD {
				probs = append(probs, Problem{CheckOFDPeers, fmt.Sprintf(
					"%s was granted byte %d of %s/locks, which this process holds: OFD locks are not exclusive across the processes sharing this root",
					who, m.self.lockOff, m.opts.Root)})
			}
			if ch.Flock {
				probs = append(probs, Problem{CheckFlockPeers, fmt.Sprintf(
					"%s was granted the flock of %s, which this process holds: flock is not exclusive across the processes sharing this root",
					who, m.self.stampPath())})
			}
		}
	}
	return acks, probs
}

func (m *Monitor) readChallenge(ctx context.Context, c challengeRef) (*challenge, error) {
	rc, err := m.w.store.Open(ctx, m.w.challengeKey(c.target, c.challenger), 0, -1)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return nil, err
	}
	ch := &challenge{}
	return ch, json.Unmarshal(b, ch)
}

// awaitAnswers waits, in the first round, for the peers challenged in it
// to answer (or to be found dead), so that the first verdict already says
// whether the locks hold. It returns the confirmed failures.
func (m *Monitor) awaitAnswers(ctx context.Context, pending []*peer, prs []PeerRound) []Problem {
	tick := min(max(m.opts.Interval/4, 10*time.Millisecond), 250*time.Millisecond)
	deadline := time.Now()
	for _, p := range pending {
		deadline = maxTime(deadline, time.Now().Add(m.ttlFor(p.ann)))
	}
	var probs []Problem
	for len(pending) > 0 && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, tick); err != nil {
			break
		}
		var still []*peer
		for _, p := range pending {
			a, err := m.w.fetch(ctx, p.id)
			if err != nil {
				still = append(still, p)
				continue
			}
			if a == nil || m.host.gone(a) {
				continue // gone: the grant meant nothing; the next round cleans up
			}
			if a.Seq != p.ann.Seq {
				p.changed = time.Now()
			}
			p.ann = a
			if !slices.Contains(a.Acks, m.self.id) {
				still = append(still, p)
				continue
			}
			probs = append(probs, m.confirmed(p)...)
			for i := range prs {
				if prs[i].ID == p.id {
					prs[i].OFD, prs[i].Flock = confirmState(prs[i].OFD), confirmState(prs[i].Flock)
				}
			}
		}
		pending = still
	}
	return probs
}

func confirmState(s string) string {
	if s == "granted" {
		return "confirmed"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cleanOrphans removes challenges whose challenger has not announced itself
// for a time to live (it died without removing them).
func (m *Monitor) cleanOrphans(ctx context.Context, l listing, now time.Time) {
	seen := map[string]bool{}
	for _, c := range l.challenges {
		if _, ok := l.peers[c.challenger]; ok || c.challenger == m.self.id {
			continue
		}
		key := m.w.challengeKey(c.target, c.challenger)
		seen[key] = true
		first, ok := m.orphans[key]
		if !ok {
			m.orphans[key] = now
			continue
		}
		if now.Sub(first) > m.ttlFor(nil) {
			if err := m.w.store.Delete(ctx, key); err == nil {
				delete(m.orphans, key)
			}
		}
	}
	for key := range m.orphans {
		if !seen[key] {
			delete(m.orphans, key)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isNotFound(err error) bool { return errors.Is(err, blobstore.ErrNotFound) }
