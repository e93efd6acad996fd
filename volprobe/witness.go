package volprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// announcement is what a process says about itself in the witness (JSON).
type announcement struct {
	Version  int    `json:"v"`
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	BootID   string `json:"boot_id,omitempty"`
	PIDNS    string `json:"pid_ns,omitempty"`
	Started  uint64 `json:"start_ticks,omitempty"` // /proc/<pid>/stat field 22
	Root     string `json:"root"`                  // as this process sees it
	Volume   string `json:"volume"`
	Interval int64  `json:"interval_ms"`
	// TTL is how long its announcement may stay unchanged while it lives:
	// three intervals, the longest look at a peer's files, and the grace.
	TTL   int64  `json:"ttl_ms"`
	Lock  int64  `json:"lock"` // the byte of <root>/locks it holds
	Seq   uint64 `json:"seq"`
	Mtime int64  `json:"mtime_ns"` // its stamp file's mtime at Seq
	// Acks are the processes whose challenges it saw in its last round.
	Acks []string `json:"acks,omitempty"`
	// Failing is its verdict, for humans.
	Failing string `json:"failing,omitempty"`
}

func (a *announcement) who() string {
	return fmt.Sprintf("%s on %s (pid %d, root %s)", a.Kind, a.Host, a.PID, a.Root)
}

// challenge is the body of a challenge: what the challenger was granted.
type challenge struct {
	Challenger string `json:"challenger"`
	Host       string `json:"host"`
	PID        int    `json:"pid"`
	OFD        bool   `json:"ofd"`
	Flock      bool   `json:"flock"`
}

// witness reads and writes the monitor's keys in the shared store.
type witness struct {
	store  blobstore.Store
	prefix string
}

func (w witness) peerKey(id string) string { return w.prefix + "peers/" + id }
func (w witness) challengeKey(target, challenger string) string {
	return w.prefix + "challenges/" + target + "." + challenger
}

func (w witness) put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), blobstore.PutOptions{})
	return err
}

// fetch reads a peer's announcement; nil without error when there is none.
func (w witness) fetch(ctx context.Context, id string) (*announcement, error) {
	rc, err := w.store.Open(ctx, w.peerKey(id), 0, -1)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, err
	}
	a := &announcement{}
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("volprobe: announcement %s: %w", w.peerKey(id), err)
	}
	if a.ID != id {
		return nil, fmt.Errorf("volprobe: announcement %s names id %q", w.peerKey(id), a.ID)
	}
	return a, nil
}

// listing is one look at the witness.
type listing struct {
	peers      map[string]time.Time // id -> when the announcement was last written
	challenges []challengeRef
}

type challengeRef struct{ target, challenger string }

func (w witness) list(ctx context.Context) (listing, error) {
	l := listing{peers: map[string]time.Time{}}
	err := w.store.List(ctx, w.prefix, func(bi blobstore.Info) error {
		rest := strings.TrimPrefix(bi.Key, w.prefix)
		if id, ok := strings.CutPrefix(rest, "peers/"); ok && isID(id) {
			l.peers[id] = bi.ModTime
		} else if c, ok := strings.CutPrefix(rest, "challenges/"); ok {
			t, ch, ok := strings.Cut(c, ".")
			if ok && isID(t) && isID(ch) {
				l.challenges = append(l.challenges, challengeRef{t, ch})
			}
		}
		return nil
	})
	return l, err
}

func isID(s string) bool {
	return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == ""
}
