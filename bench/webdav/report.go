package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// baselines of the ratios: Apache on a local disk for the metadata
// operations, minio-go straight to the same S3 server for content.
const baselineMeta = "apache"

var davOrder = []string{"s3dfs", "rclone", "apache", "x/net/webdav"}

var davLabel = map[string]string{
	"s3dfs":        "s3dfs serve (S3 content)",
	"rclone":       "rclone serve webdav (S3)",
	"apache":       "Apache mod_dav (local dir)",
	"x/net/webdav": "x/net/webdav (local dir)",
}

// targets are those of issue 4.
var (
	tPropHot  = target{what: "PROPFIND depth 1 of 1 000 files, hot", limit: 10 * time.Millisecond}
	tPropCold = target{what: "PROPFIND depth 1 of 1 000 files, cold", limit: 30 * time.Millisecond}
	tPut4K    = target{what: "4 KiB PUT vs raw minio-go", minRatio: 0.80}
	tGet4K    = target{what: "4 KiB GET vs raw minio-go", minRatio: 0.90}
	tPut64M   = target{what: "64 MiB PUT vs raw minio-go", minRatio: 0.90}
	tMove     = target{what: "MOVE of a 1 000-file folder", limit: 5 * time.Millisecond}
)

func writeReport(w io.Writer, c config, e environment, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := "WebDAV: s3dfs serve beside its peers"
	if c.quick {
		title += " (quick smoke run: few repetitions, do not quote)"
	}
	p("# %s\n\n", title)
	p("Measured in one run by `%s`, every peer on the same machine, the same filesystem and the same S3 server; ", e.command)
	p("within each repetition the peers take turns (in rotating order), so that the noise of this shared machine falls on all of them.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s (run took %.0f s) |\n", e.date.Format(time.RFC3339), e.duration.Seconds())
	p("| code | s3dfs commit %s |\n", e.commit)
	p("| machine | %s, %d cores, %s RAM |\n", e.cpu, e.cores, e.memory)
	p("| kernel | %s |\n", e.kernel)
	p("| filesystem | %s (work directory %s) |\n", e.fs, e.work)
	p("| go | %s |\n", e.goVersion)
	for _, k := range sortedKeys(e.versions) {
		p("| %s | %s |\n", k, e.versions[k])
	}
	p("| load average | %s before, %s after |\n", e.loadBefore, e.loadAfter)
	for _, ph := range e.phases {
		p("| phase: %s | %.0f s, load average %s at its start |\n", ph.name, ph.took.Seconds(), ph.load)
	}
	p("\n")

	writeTargets(w, r)
	writePropfind(w, c, r)
	writeTransfers(w, c, r)
	writeMove(w, c, r)
	writePeers(w, c)
	writeRaw(w, r)
}

func writeTargets(w io.Writer, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Targets (issue 4)\n\n")
	p("Medians. Ratios are s3dfs divided by the baseline measured in the same run.\n\n")
	p("| target | s3dfs | verdict |\n|---|---|---|\n")
	row := func(t target, measured string, d time.Duration, ratio float64) {
		met, text := t.verdict(d, ratio)
		mark := "**no**"
		if met {
			mark = "yes"
		}
		p("| %s | %s | %s — %s |\n", targetText(t), measured, mark, text)
	}
	hot, cold := median(r.propHot["s3dfs"]), median(r.propCold["s3dfs"])
	row(tPropHot, ms(hot), hot, 0)
	row(tPropCold, ms(cold), cold, 0)
	put4, get4 := ratioRate(r.small, func(t *transfer) []float64 { return t.putRate }), ratioRate(r.small, func(t *transfer) []float64 { return t.getRate })
	row(tPut4K, pct(put4), 0, put4)
	row(tGet4K, pct(get4), 0, get4)
	put64 := ratioBig(r.big, func(t *transfer) []time.Duration { return t.put })
	row(tPut64M, pct(put64), 0, put64)
	mv := median(r.move["s3dfs"])
	row(tMove, ms(mv), mv, 0)
	p("\n")
}

func targetText(t target) string {
	if t.limit > 0 {
		return fmt.Sprintf("%s <= %s", t.what, ms(t.limit))
	}
	return fmt.Sprintf("%s >= %.0f%%", t.what, 100*t.minRatio)
}

func pct(r float64) string {
	if r <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*r)
}

// ratioRate is s3dfs's median rate over raw minio-go's.
func ratioRate(m map[string]*transfer, f func(*transfer) []float64) float64 {
	s, b := m[peerS3DFS], m[peerRaw]
	if s == nil || b == nil || medianF(f(b)) == 0 {
		return 0
	}
	return medianF(f(s)) / medianF(f(b))
}

// ratioBig is s3dfs's median throughput over raw minio-go's.
func ratioBig(m map[string]*transfer, f func(*transfer) []time.Duration) float64 {
	s, b := m[peerS3DFS], m[peerRaw]
	if s == nil || b == nil || median(f(s)) == 0 {
		return 0
	}
	return float64(median(f(b))) / float64(median(f(s)))
}

// times formats a/b as "1.4x" (how many times the baseline's time).
func times(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

func writePropfind(w io.Writer, c config, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## PROPFIND depth 1 of a folder of %d files\n\n", c.files)
	p("Hot: %d requests per server to a process that has answered the same request before. ", c.propHot)
	p("Cold: the first PROPFIND of the folder by a fresh process on the same data (%d processes per server), ", c.propCold)
	p("after one authenticated OPTIONS of the server root (s3dfs: of the user's space), so that a once-per-login password check is not counted. ")
	p("The kernel's page and dentry caches are warm in both cases (dropping them would disturb the other users of this machine). ")
	p("\"vs Apache\" is the time as a multiple of Apache's (below 1 is faster). ")
	p("Each request asks for resourcetype, getcontentlength, getlastmodified, getetag and getcontenttype, and its answer is checked to list every file.\n\n")
	p("| server | hot median | hot p95 | cold median | cold p95 | hot vs Apache | cold vs Apache |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	bh, bc := median(r.propHot[baselineMeta]), median(r.propCold[baselineMeta])
	for _, n := range davOrder {
		h, cd := r.propHot[n], r.propCold[n]
		p("| %s | %s | %s | %s | %s | %s | %s |\n", davLabel[n], ms(median(h)), ms(quantile(h, 0.95)),
			ms(median(cd)), ms(quantile(cd, 0.95)), times(median(h), bh), times(median(cd), bc))
	}
	if len(r.propFirst) > 0 {
		p("| s3dfs serve, first request of a fresh process (login included) | | | %s | %s | | %s |\n",
			ms(median(r.propFirst)), ms(quantile(r.propFirst, 0.95)), times(median(r.propFirst), bc))
	}
	p("\n")
}

func writeTransfers(w io.Writer, c config, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## 4 KiB PUT and GET, one client, one request at a time\n\n")
	p("%d rounds of %d PUTs of new files, then %d GETs of them, per peer. ", c.smallRounds, c.smallN, c.smallN)
	p("ops/s is the median over the rounds of (requests / their summed time); latencies are over all requests. ")
	p("\"vs raw\" is the peer's ops/s as a share of raw minio-go's.\n\n")
	p("| peer | PUT ops/s | PUT p50 | PUT p95 | PUT vs raw | GET ops/s | GET p50 | GET p95 | GET vs raw |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	raw := r.small[peerRaw]
	for _, n := range transferPeers {
		t := r.small[n]
		if t == nil {
			continue
		}
		putVs, getVs := "", ""
		if raw != nil {
			putVs = pct(medianF(t.putRate) / medianF(raw.putRate))
			getVs = pct(medianF(t.getRate) / medianF(raw.getRate))
		}
		p("| %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s |\n", n,
			medianF(t.putRate), ms(median(t.put)), ms(quantile(t.put, 0.95)), putVs,
			medianF(t.getRate), ms(median(t.get)), ms(quantile(t.get, 0.95)), getVs)
	}
	p("\n## %d MiB PUT and GET\n\n", c.bigSize>>20)
	p("%d PUTs of a new file and GETs of it per peer, one at a time; MB/s is 10^6 bytes per second of the median request. ", c.bigReps)
	p("\"vs raw\" is the peer's throughput as a share of raw minio-go's.\n\n")
	p("| peer | PUT MB/s | PUT median | PUT vs raw | GET MB/s | GET median | GET vs raw |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	rawB := r.big[peerRaw]
	for _, n := range transferPeers {
		t := r.big[n]
		if t == nil {
			continue
		}
		putVs, getVs := "", ""
		if rawB != nil {
			putVs = pct(float64(median(rawB.put)) / float64(median(t.put)))
			getVs = pct(float64(median(rawB.get)) / float64(median(t.get)))
		}
		p("| %s | %.0f | %s | %s | %.0f | %s | %s |\n", n,
			mbps(t.size, median(t.put)), ms(median(t.put)), putVs,
			mbps(t.size, median(t.get)), ms(median(t.get)), getVs)
	}
	p("\n")
}

func writeMove(w io.Writer, c config, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## MOVE of a folder of %d files\n\n", c.files)
	p("%d MOVEs per server, back and forth between two names (Overwrite: F; every MOVE answered 201, and the folder ends up whole under its last name). ", c.moveReps)
	p("\"vs Apache\" is the time as a multiple of Apache's.\n\n")
	p("| server | median | p95 | vs Apache |\n|---|---:|---:|---:|\n")
	b := median(r.move[baselineMeta])
	for _, n := range davOrder {
		m := r.move[n]
		p("| %s | %s | %s | %s |\n", davLabel[n], ms(median(m)), ms(quantile(m, 0.95)), times(median(m), b))
	}
	p("\n")
}

func writePeers(w io.Writer, c config) {
	fmt.Fprintf(w, `## The peers and how they were set up

All listen on 127.0.0.1 (a free port each) and keep their data below the
work directory, on the filesystem named above. The client is one Go
net/http client with keep-alive and without transparent gzip.

- **s3dfs serve**: built from this tree (`+"`go build ./cmd/s3dfs`"+`), run as
  `+"`s3dfs serve --root DIR --blobstore s3 --addr 127.0.0.1:0 --log-level warn`"+`
  with the S3DFS_S3_* settings of the versitygw below (bucket %s), and
  default options otherwise (durability none, strict cache, 16 MiB parts, 4
  in flight). One user made with `+"`s3dfs user add`"+` (bcrypt); requests use
  HTTP Basic on /dav/files/%s/.
- **rclone serve webdav**: the Debian package, `+"`rclone serve webdav :s3:%s --user U --pass P`"+`
  with the S3 settings in RCLONE_S3_* (provider Other, path style) on the
  same versitygw; everything else rclone's defaults (no VFS cache, so
  PUTs stream to S3 and the 201 means the data is in S3, as with s3dfs;
  directory listings cached for 5 minutes; file times read from each
  object's metadata). With --vfs-cache-mode writes a PUT would be answered
  once the data is in a local cache file and uploaded later, which is not
  the same promise. The peer a user would otherwise pick to put WebDAV in
  front of a bucket.
- **Apache mod_dav**: the Debian package apache2, started as
  `+"`apache2 -X -f CONF`"+` with a minimal config of ours (mpm_prefork in one
  foreground process, mod_dav + mod_dav_fs on a local DocumentRoot,
  DavLockDB, keep-alive without a request limit, no authentication, no
  access log). The classic WebDAV server on a local disk: the baseline of
  the metadata operations.
- **x/net/webdav**: bench/webdav/cmd/xnetdav, golang.org/x/net/webdav's
  Handler on webdav.Dir of a local directory with the in-memory lock
  system, no authentication.
- **minio-go (raw S3)**: minio-go's PutObject and GetObject straight to the
  same versitygw (bucket %s), default options (for %d MiB: multipart, 16 MiB
  parts, 4 in flight, like s3dfs's defaults); the body is a bytes.Reader.
  The ceiling of what any gateway over this S3 server can do: the baseline
  of the content operations.
- **versitygw**: started by internal/s3test.StartServer with its posix
  backend in the work directory; all three S3 users share it. %s

`, bucketS3DFS, benchUser, bucketRclone, bucketRaw, c.bigSize>>20, keepAliveNote(c))
}

func keepAliveNote(c config) string {
	if c.s3KeepAlive {
		return `Started with
  --keep-alive (-s3-keep-alive), so S3 clients reuse their connections, as
  they do with most S3 servers.`
	}
	return `Without
  --keep-alive, as internal/s3test starts it: versitygw then answers every
  request with "Connection: close", so every S3 request (raw, s3dfs's and
  rclone's alike) opens a new TCP connection. Run with -s3-keep-alive to
  measure with reused connections.`
}

func writeRaw(w io.Writer, r *results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Raw numbers\n\nEvery sample in milliseconds, in the order measured; 4 KiB runs as ops/s per round (the per-request latencies are summarised above).\n\n```\n")
	series := func(name string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
		}
		p("%s: %s\n", name, strings.Join(parts, " "))
	}
	rates := func(name string, fs []float64) {
		if len(fs) == 0 {
			return
		}
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = fmt.Sprintf("%.0f", f)
		}
		p("%s: %s\n", name, strings.Join(parts, " "))
	}
	for _, n := range davOrder {
		series("propfind hot  "+n, r.propHot[n])
	}
	for _, n := range davOrder {
		series("propfind cold "+n, r.propCold[n])
	}
	series("propfind first request incl. login s3dfs", r.propFirst)
	for _, n := range transferPeers {
		if t := r.small[n]; t != nil {
			rates("4KiB PUT ops/s "+n, t.putRate)
			rates("4KiB GET ops/s "+n, t.getRate)
		}
	}
	for _, n := range transferPeers {
		if t := r.big[n]; t != nil {
			series("64MiB PUT "+n, t.put)
			series("64MiB GET "+n, t.get)
		}
	}
	for _, n := range davOrder {
		series("move "+n, r.move[n])
	}
	p("```\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
