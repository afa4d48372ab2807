// Package logging adapts the standard library's log/slog, which Proto.Actor logs
// through, onto hashicorp/go-hclog, which the rest of swerl uses. It is the one place
// where the two meet.
package logging

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// SlogHandler returns a slog.Handler that writes to log. Records below min are
// dropped (Proto.Actor reports every dead letter and system start at Info; swerl
// shows them only from Warn unless asked).
func SlogHandler(log hclog.Logger, min slog.Level) slog.Handler {
	return &handler{log: log, min: min}
}

type handler struct {
	log   hclog.Logger
	min   slog.Level
	attrs []any
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, len(h.attrs)+2*r.NumAttrs())
	args = append(args, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, h.key(a.Key), a.Value.Resolve().Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.log.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.log.Warn(r.Message, args...)
	case r.Level >= slog.LevelInfo:
		h.log.Info(r.Message, args...)
	default:
		h.log.Debug(r.Message, args...)
	}
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]any(nil), h.attrs...)
	for _, a := range attrs {
		n.attrs = append(n.attrs, h.key(a.Key), a.Value.Resolve().Any())
	}
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	n := *h
	n.group = h.key(name)
	return &n
}

func (h *handler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}
