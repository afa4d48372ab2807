package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
)

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), false},
		{cerrdefs.ErrNotFound.WithMessage("No such container"), false},
		{fmt.Errorf("create: %w", cerrdefs.ErrConflict), false},
		{cerrdefs.ErrInvalidArgument, false},
		{cerrdefs.ErrInternal.WithMessage("500"), true},
		{fmt.Errorf("x: %w", cerrdefs.ErrUnavailable), true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}, true},
		{errors.New("something else"), false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestRetryDelayAndTries(t *testing.T) {
	r := Retry{Tries: 4, Initial: 200 * time.Millisecond, Max: time.Second}
	for n, max := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 3: 800 * time.Millisecond, 4: time.Second, 10: time.Second} {
		for range 100 {
			if d := r.Delay(n); d < max/2 || d > max {
				t.Fatalf("Delay(%d) = %s, want in [%s, %s]", n, d, max/2, max)
			}
		}
	}
	r = Retry{Tries: 3, Initial: time.Millisecond, Max: time.Millisecond}
	calls := 0
	err := r.do(context.Background(), hclog.NewNullLogger(), "test", func(context.Context) error {
		calls++
		return cerrdefs.ErrUnavailable
	})
	if calls != 3 || !cerrdefs.IsUnavailable(err) {
		t.Errorf("transient error: %d calls, err %v; want 3 calls", calls, err)
	}
	calls = 0
	r.do(context.Background(), hclog.NewNullLogger(), "test", func(context.Context) error {
		calls++
		return cerrdefs.ErrNotFound
	})
	if calls != 1 {
		t.Errorf("permanent error retried: %d calls", calls)
	}
}
