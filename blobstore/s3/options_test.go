package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/s3"
)

func validOptions() s3.Options {
	o := s3.DefaultOptions()
	o.Endpoint, o.Bucket, o.AccessKey, o.SecretKey = "127.0.0.1:9000", "blobs", "ak", "sk"
	return o
}

func TestOptionsValidate(t *testing.T) {
	if err := validOptions().Validate(); err != nil {
		t.Fatalf("valid options rejected: %v", err)
	}
	for _, c := range []struct {
		name   string
		adjust func(*s3.Options)
		want   string // "" means valid
	}{
		{"no endpoint", func(o *s3.Options) { o.Endpoint = "" }, "Endpoint is empty"},
		{"scheme", func(o *s3.Options) { o.Endpoint = "http://127.0.0.1:9000" }, "without a scheme"},
		{"no port", func(o *s3.Options) { o.Endpoint = "s3.example.com" }, "not host:port"},
		{"virtual host on IP", func(o *s3.Options) { o.PathStyle = false }, "set PathStyle"},
		{"virtual host on DNS name", func(o *s3.Options) { o.PathStyle, o.Endpoint = false, "s3.example.com:443" }, ""},
		{"virtual host, dotted bucket, TLS", func(o *s3.Options) {
			o.PathStyle, o.Endpoint, o.UseTLS, o.Bucket = false, "s3.example.com:443", true, "my.blobs"
		}, "breaks TLS certificates"},
		{"virtual host, dotted bucket, plain", func(o *s3.Options) {
			o.PathStyle, o.Endpoint, o.Bucket = false, "s3.example.com:80", "my.blobs"
		}, ""},
		{"path style, dotted bucket, TLS", func(o *s3.Options) { o.UseTLS, o.Bucket = true, "my.blobs" }, ""},
		{"virtual host, upper-case bucket", func(o *s3.Options) {
			o.PathStyle, o.Endpoint, o.Bucket = false, "s3.example.com:443", "Blobs"
		}, "not usable with virtual-host addressing"},
		{"no bucket", func(o *s3.Options) { o.Bucket = "" }, "Bucket is empty"},
		{"short bucket", func(o *s3.Options) { o.Bucket = "ab" }, `Bucket "ab"`},
		{"no secret", func(o *s3.Options) { o.SecretKey = "" }, "SecretKey"},
		{"no region", func(o *s3.Options) { o.Region = "" }, "Region is empty"},
		{"prefix without slash", func(o *s3.Options) { o.Prefix = "tenant" }, `must end in "/"`},
		{"absolute prefix", func(o *s3.Options) { o.Prefix = "/tenant/" }, "invalid key"},
		{"prefix", func(o *s3.Options) { o.Prefix = "tenant/a/" }, ""},
		{"small part", func(o *s3.Options) { o.PartSize = 5<<20 - 1 }, "PartSize"},
		{"smallest part", func(o *s3.Options) { o.PartSize = 5 << 20 }, ""},
		{"huge part", func(o *s3.Options) { o.PartSize = 5<<30 + 1 }, "PartSize"},
		{"no concurrency", func(o *s3.Options) { o.Concurrency = 0 }, "Concurrency 0"},
		{"negative retries", func(o *s3.Options) { o.MaxRetries = -1 }, "MaxRetries -1"},
		{"unbounded retries", func(o *s3.Options) { o.MaxRetries = 1000 }, "MaxRetries 1000"},
		{"no retries", func(o *s3.Options) { o.MaxRetries = 0 }, ""},
		{"no dial timeout", func(o *s3.Options) { o.DialTimeout = 0 }, "DialTimeout"},
		{"no response timeout", func(o *s3.Options) { o.ResponseTimeout = -1 }, "ResponseTimeout"},
		{"no idle timeout", func(o *s3.Options) { o.IdleTimeout = 0 }, "IdleTimeout"},
		{"no copy rate", func(o *s3.Options) { o.ServerCopyRate = 0 }, "ServerCopyRate"},
	} {
		o := validOptions()
		c.adjust(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: rejected: %v", c.name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: accepted, want an error about %q", c.name, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
		if c.want != "" {
			// New must refuse before touching the network.
			if _, nerr := s3.New(t.Context(), o); nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("%s: New error = %v, want Validate's %v", c.name, nerr, err)
			}
		}
	}
}

func TestIsTransient(t *testing.T) {
	resp := func(code string, status int) error {
		return fmt.Errorf("wrapped: %w", minio.ErrorResponse{Code: code, StatusCode: status})
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{resp("SlowDown", 503), true},
		{resp("SlowDown", 400), true}, // the code decides even under a 4xx
		{resp("InternalError", 500), true},
		{resp("503 Service Unavailable", 503), true}, // HEAD: no body, no code
		{resp("RequestTimeout", 400), true},
		{resp("", 429), true},
		{resp("AccessDenied", 403), false},
		{resp("SignatureDoesNotMatch", 403), false},
		{resp("NoSuchBucket", 404), false},
		{resp("NoSuchKey", 404), false},
		{resp("InvalidBucketName", 400), false},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, false},
		{&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, true},
		{io.ErrUnexpectedEOF, true},
		{context.Canceled, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{blobstore.ErrNotFound, false},
		{errors.New("anything else"), false},
	} {
		if got := s3.IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
