package progress

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// screen is a fake terminal: it keeps what was written and replays the control
// sequences the line uses ("\r", clear-to-end-of-line, "\n") into the rows a person
// would see.
type screen struct {
	mu  sync.Mutex
	raw bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// rows renders the screen: finished rows, then the row the cursor is on.
func (s *screen) rows() (done []string, cur string) {
	raw := s.String()
	var line []rune
	col := 0
	for i := 0; i < len(raw); {
		switch {
		case strings.HasPrefix(raw[i:], "\x1b[K"):
			line = line[:col]
			i += 3
			continue
		case raw[i] == '\r':
			col = 0
		case raw[i] == '\n':
			done = append(done, string(line))
			line, col = nil, 0
		default:
			r := []rune(raw[i:])[0]
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
			i += len(string(r))
			continue
		}
		i++
	}
	return done, string(line)
}

func rec(it, g, s int, resolved bool) messages.EpisodeRecord {
	return messages.EpisodeRecord{Ref: messages.EpisodeRef{Iteration: it, Group: g, Sample: s},
		Status: messages.Finished, Resolved: resolved}
}

func phase(it, g, s int, p actors.Phase) actors.Event {
	return actors.Event{Kind: actors.EventPhase, Ref: messages.EpisodeRef{Iteration: it, Group: g, Sample: s}, Phase: p}
}

// TestLineShowsARun: the line counts episodes done out of the run's total, the
// resolved ones, the rate and the ETA from the clock, and the episodes running; it is
// redrawn in place and ended with a newline when the run ends.
func TestLineShowsARun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var scr screen
		l := New(&scr, Options{})
		begin := time.Now()
		l.RunStarted(observe.Run{Stage: "stage1", Iterations: 2, EpisodesPerIteration: 4, Begin: begin})
		if _, cur := scr.rows(); cur != "[stage1] iteration 1/2, episodes 0/8 (resolved 0), rate -, ETA -, running 0" {
			t.Fatalf("first line %q", cur)
		}
		l.Observe(actors.Event{Kind: actors.EventIterationStarted, Episodes: 4})
		for s := range 3 {
			l.Observe(phase(1, 0, s, actors.PhaseStarting))
			l.Observe(phase(1, 0, s, actors.PhaseGenerating))
		}
		time.Sleep(2 * time.Second) // the bubble's clock: no real wait
		l.Observe(phase(1, 0, 0, actors.PhaseDone))
		l.Record("stage1", rec(1, 0, 0, true))
		l.Record("stage1", rec(1, 0, 1, false))
		time.Sleep(DefaultInterval)
		synctest.Wait()
		done, cur := scr.rows()
		// 2 done in 2.2s: 0.91/s; 6 left: 6.6s.
		if want := "[stage1] iteration 1/2, episodes 2/8 (resolved 1), rate 0.91/s, ETA 6.6s, running 1"; cur != want || len(done) != 0 {
			t.Fatalf("line %q (rows above %q), want %q", cur, done, want)
		}
		// Redrawn in place: every draw starts with \r, the screen holds no newline yet.
		if strings.Count(scr.String(), "\r") < 2 || strings.Contains(scr.String(), "\n") {
			t.Fatalf("not redrawn in place: %q", scr.String())
		}
		l.Observe(actors.Event{Kind: actors.EventIterationStarted, Episodes: 4})
		for s := 2; s < 8; s++ {
			l.Record("stage1", rec(1+s/4, s/4, s%4, false))
		}
		time.Sleep(800 * time.Millisecond)
		l.RunEnded("stage1", nil)
		done, cur = scr.rows()
		if cur != "" || len(done) != 1 || done[0] != "[stage1] iteration 2/2, episodes 8/8 (resolved 1), rate 2.7/s, done in 3.0s" {
			t.Fatalf("after the end: rows %q, cursor row %q", done, cur)
		}
		n := len(scr.String())
		time.Sleep(time.Second)
		if len(scr.String()) != n {
			t.Fatalf("drawn after the run ended: %q", scr.String()[n:])
		}
	})
}

// TestLineRedrawsAtMostFiveTimesASecond: records arriving fast do not redraw the line
// each; the ticker does, every 200ms.
func TestLineRedrawsAtMostFiveTimesASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var scr screen
		l := New(&scr, Options{})
		l.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 1000})
		for i := range 1000 {
			l.Record("eval", rec(1, i, 0, false))
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		draws := strings.Count(scr.String(), "\r")
		if draws < 4 || draws > 6 { // the first draw, then one per 200ms in 1s
			t.Fatalf("%d draws in 1s of records, want about 5", draws)
		}
		l.RunEnded("eval", nil)
	})
}

// TestWriterGoesAboveTheLine: plain lines and logs written through Writer appear whole
// above the live line, which is drawn again below them; a write that does not end
// its line holds the live line back until the line ends.
func TestWriterGoesAboveTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var scr, other screen
		l := New(&scr, Options{})
		w := l.Writer(&scr)
		l.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 2})
		l.Record("eval", rec(1, 0, 0, true))
		w.Write([]byte("[  1.0s] 1/2 k1/g0/s0: resolved\n"))
		w.Write([]byte("2023-01-01 [WARN] swerl: half a "))
		time.Sleep(time.Second) // ticks while the half line waits: nothing drawn
		w.Write([]byte("line\n"))
		done, cur := scr.rows()
		want := []string{"[  1.0s] 1/2 k1/g0/s0: resolved", "2023-01-01 [WARN] swerl: half a line"}
		if strings.Join(done, "|") != strings.Join(want, "|") {
			t.Fatalf("rows above the line %q, want %q", done, want)
		}
		if !strings.HasPrefix(cur, "[eval] episodes 1/2 (resolved 1)") {
			t.Fatalf("live line %q", cur)
		}
		// Another stream on the same screen (stdout): the line is cleared on out, the
		// text goes to the other stream.
		scr.mu.Lock()
		scr.raw.Reset()
		scr.mu.Unlock()
		l.Writer(&other).Write([]byte("iteration 1: done\n"))
		if s := scr.String(); !strings.HasPrefix(s, clearLine) || !strings.Contains(s, "[eval] episodes 1/2") {
			t.Fatalf("out around another stream's write: %q", s)
		}
		if other.String() != "iteration 1: done\n" {
			t.Fatalf("other stream got %q", other.String())
		}
		l.RunEnded("eval", errors.New("context canceled"))
		done, _ = scr.rows()
		if last := done[len(done)-1]; !regexp.MustCompile(`^\[eval\] episodes 1/2 \(resolved 1\), rate [0-9.]+/s, stopped after [0-9.]+s: context canceled$`).MatchString(last) {
			t.Fatalf("last row %q", last)
		}
		// With no run, the writer writes and draws nothing more.
		n := len(scr.String())
		w.Write([]byte("after\n"))
		if got := scr.String()[n:]; got != "after\n" {
			t.Fatalf("with no run going: %q", got)
		}
	})
}

// TestLineIsCutToTheWidth: a line longer than the terminal is cut so that it never
// wraps (a wrapped line cannot be redrawn in place).
func TestLineIsCutToTheWidth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var scr screen
		l := New(&scr, Options{Width: func() int { return 20 }})
		l.RunStarted(observe.Run{Stage: "rft_collect", Iterations: 1, EpisodesPerIteration: 10})
		if _, cur := scr.rows(); cur != "[rft_collect] episo" {
			t.Fatalf("cut line %q", cur)
		}
		l.Close()
		if _, cur := scr.rows(); cur != "" {
			t.Fatalf("Close left %q", cur)
		}
	})
}

// TestDurationString pins the ETA's format.
func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3200 * time.Millisecond: "3.2s", 38 * time.Second: "38s", 125 * time.Second: "2m05s",
		62*time.Minute + 10*time.Second: "1h02m",
	} {
		if got := durationString(d); got != want {
			t.Errorf("durationString(%v) = %q, want %q", d, got, want)
		}
	}
}

// stuckScreen is a terminal that stops taking output while stuck is open (a paused
// ssh session).
type stuckScreen struct {
	screen
	mu    sync.Mutex
	stuck chan struct{}
}

func (s *stuckScreen) Write(p []byte) (int, error) {
	s.mu.Lock()
	c := s.stuck
	s.mu.Unlock()
	if c != nil {
		<-c
	}
	return s.screen.Write(p)
}

// TestStuckTerminalDoesNotBlockTheRun: while the terminal takes no output, the
// actors' reports still return at once; the counts show when it takes output again.
func TestStuckTerminalDoesNotBlockTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var scr stuckScreen
		l := New(&scr, Options{})
		l.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 3})
		scr.mu.Lock()
		scr.stuck = make(chan struct{})
		scr.mu.Unlock()
		time.Sleep(DefaultInterval) // the ticker's draw blocks in Write
		synctest.Wait()
		for i := range 3 {
			// Blocked here, the test hangs until go test's -timeout, with the stacks.
			l.Observe(phase(1, i, 0, actors.PhaseGenerating))
			l.Record("eval", rec(1, i, 0, true))
		}
		scr.mu.Lock()
		close(scr.stuck)
		scr.stuck = nil
		scr.mu.Unlock()
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if _, cur := scr.rows(); !strings.HasPrefix(cur, "[eval] episodes 3/3 (resolved 3)") {
			t.Fatalf("line after the terminal came back: %q", cur)
		}
		// A half-written line when the run ends: the final line still shows, on a line
		// of its own.
		l.Writer(&scr).Write([]byte("half"))
		l.RunEnded("eval", nil)
		done, cur := scr.rows()
		if cur != "" || len(done) < 2 || done[len(done)-2] != "half" || !strings.HasPrefix(done[len(done)-1], "[eval] episodes 3/3") {
			t.Fatalf("rows %q, cursor row %q", done, cur)
		}
	})
}
