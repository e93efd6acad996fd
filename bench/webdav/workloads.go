package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// Peer names of the PUT and GET workloads.
const (
	peerS3DFS  = "s3dfs"
	peerRaw    = "minio-go (raw S3)"
	peerRclone = "rclone"
)

var transferPeers = []string{peerS3DFS, peerRaw, peerRclone}

// propfindHot times PROPFIND depth 1 of the 1 000-file folder on processes
// that have answered it before.
func (l *lab) propfindHot(ctx context.Context, res *results) error {
	servers := l.davServers()
	for _, s := range servers {
		for range 3 {
			if err := l.propfindSample(ctx, s, nil); err != nil {
				return err
			}
		}
	}
	for i := range l.c.propHot {
		for _, s := range rotate(servers, i) {
			var d time.Duration
			if err := l.propfindSample(ctx, s, &d); err != nil {
				return err
			}
			res.propHot[s.name] = append(res.propHot[s.name], d)
		}
	}
	return nil
}

// propfindSample does one PROPFIND of the folder, checks that it lists
// every file, and stores the time in *d if d is not nil.
func (l *lab) propfindSample(ctx context.Context, s *davServer, d *time.Duration) error {
	t, n, err := l.propfind1(ctx, s, s.root+dirPropfind+"/")
	if err != nil {
		return err
	}
	if n != l.c.files {
		return fmt.Errorf("%s: PROPFIND of %s listed %d members, want %d", s.name, dirPropfind, n, l.c.files)
	}
	if d != nil {
		*d = t
	}
	return nil
}

// propfindCold times the first PROPFIND of the folder by a fresh process
// on the same data. Before it, one authenticated OPTIONS of the server's
// root (s3dfs: of the user's space) lets the process check the password:
// s3dfs checks a bcrypt hash once per login (tens of milliseconds, on
// purpose), which is not the cost of listing a folder; propFirst measures
// that first request too, login included. The kernel's caches stay warm:
// dropping them would disturb everyone else on a shared machine.
func (l *lab) propfindCold(ctx context.Context, res *results) error {
	servers := l.davServers()
	for i := range l.c.propCold {
		for _, s := range rotate(servers, i) {
			if err := l.restart(ctx, s); err != nil {
				return err
			}
			if _, err := l.expect(ctx, s, "OPTIONS", s.optionsURL, nil, nil, http.StatusOK, http.StatusNoContent); err != nil {
				return err
			}
			var d time.Duration
			if err := l.propfindSample(ctx, s, &d); err != nil {
				return err
			}
			res.propCold[s.name] = append(res.propCold[s.name], d)
			l.lg.detail("cold PROPFIND %s: %s", s.name, ms(d))
		}
		if err := l.restart(ctx, l.s3dfs); err != nil {
			return err
		}
		var d time.Duration
		if err := l.propfindSample(ctx, l.s3dfs, &d); err != nil {
			return err
		}
		res.propFirst = append(res.propFirst, d)
	}
	return nil
}

// small times 4 KiB PUTs of new files and GETs of them, one request at a
// time from one client, in rounds in which every peer takes its turn.
func (l *lab) small(ctx context.Context, res *results) error {
	if err := l.mkcolRclone(ctx, dirSmall); err != nil {
		return err
	}
	data := randomBytes(4 << 10)
	for _, p := range transferPeers {
		res.small[p] = &transfer{size: int64(len(data))}
	}
	for r := range l.c.smallRounds {
		for _, p := range rotate(transferPeers, r) {
			tr := res.small[p]
			keys := make([]string, l.c.smallN)
			for i := range keys {
				keys[i] = fmt.Sprintf("%s/r%d-%05d", dirSmall, r, i)
			}
			put := make([]time.Duration, 0, len(keys))
			for _, k := range keys {
				d, err := l.put(ctx, p, k, data)
				if err != nil {
					return err
				}
				put = append(put, d)
			}
			get := make([]time.Duration, 0, len(keys))
			for _, k := range keys {
				d, err := l.get(ctx, p, k, int64(len(data)))
				if err != nil {
					return err
				}
				get = append(get, d)
			}
			tr.put = append(tr.put, put...)
			tr.get = append(tr.get, get...)
			tr.putRate = append(tr.putRate, rate(put))
			tr.getRate = append(tr.getRate, rate(get))
			l.lg.detail("4 KiB round %d %s: PUT %.0f/s GET %.0f/s", r, p, rate(put), rate(get))
		}
	}
	return nil
}

// big times PUT and GET of a 64 MiB file.
func (l *lab) big(ctx context.Context, res *results) error {
	if err := l.mkcolRclone(ctx, dirBig); err != nil {
		return err
	}
	data := randomBytes(int(l.c.bigSize))
	for _, p := range transferPeers {
		res.big[p] = &transfer{size: int64(len(data))}
	}
	for r := range l.c.bigReps {
		for _, p := range rotate(transferPeers, r) {
			k := fmt.Sprintf("%s/r%d.bin", dirBig, r)
			d, err := l.put(ctx, p, k, data)
			if err != nil {
				return err
			}
			res.big[p].put = append(res.big[p].put, d)
			if d, err = l.get(ctx, p, k, int64(len(data))); err != nil {
				return err
			}
			res.big[p].get = append(res.big[p].get, d)
			l.lg.detail("64 MiB round %d %s: PUT %.0f MB/s GET %.0f MB/s", r, p,
				mbps(int64(len(data)), res.big[p].put[r]), mbps(int64(len(data)), d))
		}
	}
	return nil
}

// mkcolRclone makes a folder on rclone again: an empty folder exists only
// in the memory of rclone's process (S3 has no folders), and the cold
// PROPFINDs restarted it.
func (l *lab) mkcolRclone(ctx context.Context, dir string) error {
	_, err := l.expect(ctx, l.rclone, "MKCOL", l.rclone.root+dir+"/", nil, nil, http.StatusCreated, http.StatusMethodNotAllowed)
	return err
}

// put stores data under key (a path below the peer's root) and returns
// the time it took.
func (l *lab) put(ctx context.Context, peer, key string, data []byte) (time.Duration, error) {
	if peer == peerRaw {
		t0 := time.Now()
		_, err := l.mc.PutObject(ctx, bucketRaw, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
		if err != nil {
			return 0, fmt.Errorf("minio-go: put %s: %w", key, err)
		}
		return time.Since(t0), nil
	}
	s := l.s3dfs
	if peer == peerRclone {
		s = l.rclone
	}
	r, err := l.expect(ctx, s, "PUT", s.root+key, data, nil, http.StatusCreated, http.StatusNoContent)
	return r.d, err
}

// get reads key whole and returns the time it took.
func (l *lab) get(ctx context.Context, peer, key string, size int64) (time.Duration, error) {
	if peer == peerRaw {
		t0 := time.Now()
		obj, err := l.mc.GetObject(ctx, bucketRaw, key, minio.GetObjectOptions{})
		if err != nil {
			return 0, fmt.Errorf("minio-go: get %s: %w", key, err)
		}
		n, err := io.Copy(io.Discard, obj)
		obj.Close()
		d := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("minio-go: get %s: %w", key, err)
		}
		if n != size {
			return 0, fmt.Errorf("minio-go: get %s: %d bytes, want %d", key, n, size)
		}
		return d, nil
	}
	s := l.s3dfs
	if peer == peerRclone {
		s = l.rclone
	}
	r, err := l.expect(ctx, s, "GET", s.root+key, nil, nil, http.StatusOK)
	if err != nil {
		return 0, err
	}
	if r.n != size {
		return 0, fmt.Errorf("%s: GET %s: %d bytes, want %d", s.name, key, r.n, size)
	}
	return r.d, nil
}

// move times MOVE of the 1 000-file folder, back and forth between two
// names, and checks where it ends up.
func (l *lab) move(ctx context.Context, res *results) error {
	servers := l.davServers()
	src, dst := dirMoveA, dirMoveB
	for i := range l.c.moveReps {
		for _, s := range rotate(servers, i) {
			r, err := l.expect(ctx, s, "MOVE", s.root+src+"/", nil,
				map[string]string{"Destination": s.root + dst + "/", "Overwrite": "F"}, http.StatusCreated)
			if err != nil {
				return err
			}
			res.move[s.name] = append(res.move[s.name], r.d)
			l.lg.detail("MOVE %s: %s", s.name, ms(r.d))
		}
		src, dst = dst, src
	}
	for _, s := range servers {
		n, err := l.countMembers(ctx, s, s.root+src+"/")
		if err != nil {
			return err
		}
		if n != l.c.files {
			return fmt.Errorf("%s: after the MOVEs, %s has %d members, want %d", s.name, src, n, l.c.files)
		}
		if _, err := l.expect(ctx, s, "PROPFIND", s.root+dst+"/", nil, map[string]string{"Depth": "0"}, http.StatusNotFound); err != nil {
			return fmt.Errorf("the moved-away folder is still there: %w", err)
		}
	}
	return nil
}

// randomBytes returns n bytes that no layer can compress.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{'s', '3', 'd', 'f', 's'})
	rng.Read(b)
	return b
}
