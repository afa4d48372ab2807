package actorstest

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/internal/logging"
)

// TestLogger returns an hclog logger that writes through t.Log at level (swerl's logs
// then show only for failing or -v tests).
func TestLogger(t testing.TB, level hclog.Level) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: level, Output: testWriter{t}, DisableTime: true})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// NewTestSystem returns an actor system whose Proto.Actor logs go to t at Warn and
// above, shut down when the test ends.
func NewTestSystem(t testing.TB) *actor.ActorSystem {
	t.Helper()
	log := TestLogger(t, hclog.Warn)
	sys := actor.NewActorSystem(
		actor.WithDeadLetterThrottleInterval(time.Second),
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(logging.SlogHandler(log, slog.LevelWarn))
		}))
	t.Cleanup(sys.Shutdown)
	return sys
}
