package tus

import (
	"context"
	"log/slog"
	"slices"

	xslog "golang.org/x/exp/slog"
)

// tusdLogger gives tusd, which logs with golang.org/x/exp/slog, a logger
// that forwards its warnings and errors to ours. Its per-request info lines
// are dropped: the server logs every request itself.
func tusdLogger(to *slog.Logger) *xslog.Logger {
	return xslog.New(logBridge{to: to})
}

type logBridge struct {
	to    *slog.Logger
	attrs []slog.Attr
}

func (b logBridge) Enabled(_ context.Context, l xslog.Level) bool { return l >= xslog.LevelWarn }

func (b logBridge) Handle(ctx context.Context, r xslog.Record) error {
	level := slog.Level(r.Level)
	if r.Message == "BodyReadError" {
		// A client that hung up mid-upload: routine, and resumable.
		level = slog.LevelInfo
	}
	attrs := slices.Clip(b.attrs)
	r.Attrs(func(a xslog.Attr) bool {
		attrs = append(attrs, slog.Any(a.Key, a.Value.Any()))
		return true
	})
	b.to.LogAttrs(ctx, level, "tusd: "+r.Message, attrs...)
	return nil
}

func (b logBridge) WithAttrs(as []xslog.Attr) xslog.Handler {
	attrs := slices.Clip(b.attrs)
	for _, a := range as {
		attrs = append(attrs, slog.Any(a.Key, a.Value.Any()))
	}
	return logBridge{to: b.to, attrs: attrs}
}

// WithGroup keeps the attributes flat: tusd uses no groups.
func (b logBridge) WithGroup(string) xslog.Handler { return b }
