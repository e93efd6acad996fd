package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// metrics are the handler's Prometheus metrics.
type metrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, fs *decomposedfs.FS) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "s3dfs_http_request_duration_seconds",
			Help:    "Latency of HTTP requests, by method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "s3dfs_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3dfs_http_request_body_bytes_total",
			Help: "Bytes of request bodies read.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3dfs_http_response_body_bytes_total",
			Help: "Bytes of response bodies written.",
		}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.inFlight, m.bytesIn, m.bytesOut, &cacheCollector{fs: fs}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// knownMethods bounds the method label: anything else is "OTHER", so
// that clients cannot grow the label set.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPut: true, http.MethodDelete: true,
	http.MethodOptions: true, http.MethodPost: true, http.MethodPatch: true,
	"PROPFIND": true, "PROPPATCH": true, "MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true,
}

func (m *metrics) observe(method string, status int, d time.Duration, in, out int64) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.duration.WithLabelValues(method, strconv.Itoa(status)).Observe(d.Seconds())
	m.bytesIn.Add(float64(in))
	m.bytesOut.Add(float64(out))
}

// cacheCollector reports the driver's cache counters at scrape time.
type cacheCollector struct {
	fs *decomposedfs.FS
}

var (
	cacheRatioDesc = prometheus.NewDesc("s3dfs_cache_hit_ratio",
		"Hits / (hits + misses + stale) of a driver cache since start.", []string{"cache"}, nil)
	cacheHitsDesc = prometheus.NewDesc("s3dfs_cache_hits_total",
		"Lookups served from a driver cache.", []string{"cache"}, nil)
	cacheMissesDesc = prometheus.NewDesc("s3dfs_cache_misses_total",
		"Lookups that found no entry in a driver cache.", []string{"cache"}, nil)
	cacheStaleDesc = prometheus.NewDesc("s3dfs_cache_stale_total",
		"Lookups that found an entry whose file had changed.", []string{"cache"}, nil)
	cacheEvictionsDesc = prometheus.NewDesc("s3dfs_cache_evictions_total",
		"Entries pushed out of a driver cache by its memory bound.", []string{"cache"}, nil)
)

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheRatioDesc, cacheHitsDesc, cacheMissesDesc, cacheStaleDesc, cacheEvictionsDesc} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range c.fs.CacheStats() {
		ratio := 0.0
		if total := st.Hits + st.Misses + st.Stale; total > 0 {
			ratio = float64(st.Hits) / float64(total)
		}
		ch <- prometheus.MustNewConstMetric(cacheRatioDesc, prometheus.GaugeValue, ratio, name)
		ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(st.Hits), name)
		ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(st.Misses), name)
		ch <- prometheus.MustNewConstMetric(cacheStaleDesc, prometheus.CounterValue, float64(st.Stale), name)
		ch <- prometheus.MustNewConstMetric(cacheEvictionsDesc, prometheus.CounterValue, float64(st.Evictions), name)
	}
}
