package s3

import (
	"net/http"
	"testing"
)

// TestServerWork: the requests that make S3 copy bytes before it answers
// are told apart, with how many bytes they copy; the others get no extra
// time for their first byte.
func TestServerWork(t *testing.T) {
	c := &call{work: func() int64 { return 7 << 30 }}
	req := func(method, url string, hdr map[string]string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		c    *call
		want int64
	}{
		{"GET", req("GET", "http://s3/b/k", nil), c, 0},
		{"PUT", req("PUT", "http://s3/b/k", nil), c, 0},
		{"UploadPart", req("PUT", "http://s3/b/k?partNumber=1&uploadId=x", nil), c, 0},
		{"CreateMultipartUpload", req("POST", "http://s3/b/k?uploads=", nil), c, 0},
		{"CompleteMultipartUpload", req("POST", "http://s3/b/k?uploadId=x", nil), c, 7 << 30},
		{"CompleteMultipartUpload, no size", req("POST", "http://s3/b/k?uploadId=x", nil), &call{}, 0},
		{"CopyObject", req("PUT", "http://s3/b/k", map[string]string{"X-Amz-Copy-Source": "/b/src"}), c, 7 << 30},
		{"UploadPartCopy", req("PUT", "http://s3/b/k?partNumber=2&uploadId=x", map[string]string{
			"X-Amz-Copy-Source": "/b/src", "X-Amz-Copy-Source-Range": "bytes=536870912-1073741823"}), c, 512 << 20},
		{"outside a call", req("PUT", "http://s3/b/k", map[string]string{"X-Amz-Copy-Source": "/b/src"}), nil, 0},
	} {
		if got := serverWork(tc.r, tc.c); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
