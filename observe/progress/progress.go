// Package progress draws a live progress line per engine run on a terminal:
//
//	[stage1] iteration 2/4, episodes 37/128 (resolved 12), rate 2.4/s, ETA 38s, running 16
//
// redrawn in place ("\r", then the text, then clear-to-end-of-line) a few times a
// second, and ended with a newline when the run ends. Text written through Line.Writer
// (plain progress lines, logs) goes above the live line: the line is cleared, the text
// written, and the line drawn again, so that the two never mix on the screen.
//
// A Line is an observe.Watcher. All its methods may be called concurrently.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// DefaultInterval is how often the live line is redrawn while a run goes (5 times a
// second).
const DefaultInterval = 200 * time.Millisecond

// clearLine returns the cursor to the start of the line and clears the rest of it.
const clearLine = "\r\x1b[K"

// Options configure a Line. The zero value of each field has a default.
type Options struct {
	// Interval between redraws while a run goes; DefaultInterval when zero.
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Width returns the terminal's width in columns (0: unknown, nothing is cut); the
	// line is cut to one column less so that it never wraps.
	Width func() int
}

// Line is the live progress line on a terminal out.
type Line struct {
	out      io.Writer
	interval time.Duration
	now      func() time.Time
	width    func() int

	// screen is held while writing on the terminal; it is taken before mu. Observe and
	// Record take mu only: a terminal that blocks (a paused ssh session) never blocks
	// the actors that report.
	screen  sync.Mutex
	shown   bool // the live line is on the screen
	midLine bool // text written through Writer did not end its line yet

	mu      sync.Mutex
	runs    []*run // the runs going, in the order they started
	stop    chan struct{}
	stopped chan struct{}
}

var _ observe.Watcher = (*Line)(nil)

// New returns a Line drawing on out (a terminal).
func New(out io.Writer, o Options) *Line {
	l := &Line{out: out, interval: o.Interval, now: o.Now, width: o.Width}
	if l.interval <= 0 {
		l.interval = DefaultInterval
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.width == nil {
		l.width = func() int { return 0 }
	}
	return l
}

// run is what the line knows of one engine run.
type run struct {
	stage      string
	iterations int // the run's
	iteration  int // iterations started so far
	total      int
	done       int
	resolved   int
	abandoned  int
	begin      time.Time
	live       map[messages.EpisodeKey]struct{} // episodes started and not yet done
}

// RunStarted begins a run's line and, with the first run, the redraw ticker.
func (l *Line) RunStarted(r observe.Run) {
	begin := r.Begin
	if begin.IsZero() {
		begin = l.now()
	}
	l.mu.Lock()
	l.runs = append(l.runs, &run{stage: r.Stage, iterations: r.Iterations, total: r.Iterations * r.EpisodesPerIteration, begin: begin,
		live: map[messages.EpisodeKey]struct{}{}})
	if l.stop == nil {
		l.stop, l.stopped = make(chan struct{}), make(chan struct{})
		go l.tick(l.stop, l.stopped)
	}
	l.mu.Unlock()
	l.screen.Lock()
	l.draw()
	l.screen.Unlock()
}

// tick redraws the line every interval until stop is closed.
func (l *Line) tick(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.screen.Lock()
			l.draw()
			l.screen.Unlock()
		case <-stop:
			return
		}
	}
}

// current returns the run that the actors' events belong to: the latest one (events
// carry no stage; the engine's runs follow one another).
func (l *Line) current() *run {
	if len(l.runs) == 0 {
		return nil
	}
	return l.runs[len(l.runs)-1]
}

func (l *Line) find(stage string) *run {
	for i := len(l.runs) - 1; i >= 0; i-- {
		if l.runs[i].stage == stage {
			return l.runs[i]
		}
	}
	return nil
}

// Observe counts the iterations started and the episodes running: started and not
// yet done.
func (l *Line) Observe(e actors.Event) {
	if e.Kind != actors.EventPhase && e.Kind != actors.EventIterationStarted {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.current()
	switch {
	case r == nil:
	case e.Kind == actors.EventIterationStarted:
		r.iteration++
	case e.Phase == actors.PhaseDone:
		delete(r.live, e.Ref.Key())
	default:
		r.live[e.Ref.Key()] = struct{}{}
	}
}

// Record counts a finished (or abandoned) episode.
func (l *Line) Record(stage string, rec messages.EpisodeRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.find(stage)
	if r == nil {
		return
	}
	r.done++
	if rec.Status == messages.Abandoned {
		r.abandoned++
	} else if rec.Resolved {
		r.resolved++
	}
	delete(r.live, rec.Ref.Key())
}

// Iteration and Eval are not shown: the plain lines report them.
func (l *Line) Iteration(string, actors.IterationReport) {}
func (l *Line) Eval(observe.Eval)                        {}

// RunEnded draws the run's last line, ends it with a newline, and stops the ticker
// when no run is left.
func (l *Line) RunEnded(stage string, err error) {
	l.screen.Lock()
	l.mu.Lock()
	i := len(l.runs) - 1
	for i >= 0 && l.runs[i].stage != stage {
		i--
	}
	if i < 0 {
		l.mu.Unlock()
		l.screen.Unlock()
		return
	}
	final := l.runs[i].final(l.now(), err)
	l.runs = append(l.runs[:i], l.runs[i+1:]...)
	stop, stopped := l.stopTicker()
	l.mu.Unlock()
	l.clear()
	if l.midLine { // the final line beats a half line's neatness
		io.WriteString(l.out, "\n")
		l.midLine = false
	}
	io.WriteString(l.out, l.cut(final)+"\n")
	l.draw()
	l.screen.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// stopTicker returns the ticker's channels, to close and wait on, when no run is left.
// Call with mu held.
func (l *Line) stopTicker() (stop, stopped chan struct{}) {
	if len(l.runs) > 0 || l.stop == nil {
		return nil, nil
	}
	stop, stopped, l.stop = l.stop, l.stopped, nil
	return stop, stopped
}

// Close stops the ticker and clears the line, whether or not the runs ended.
func (l *Line) Close() error {
	l.screen.Lock()
	l.mu.Lock()
	l.runs = nil
	stop, stopped := l.stopTicker()
	l.mu.Unlock()
	l.clear()
	l.screen.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	return nil
}

// Writer returns a writer whose text goes to w above the live line: the line is
// cleared first and drawn again once the text ends its line. w may be out itself or
// another stream on the same screen (stdout beside stderr).
func (l *Line) Writer(w io.Writer) io.Writer { return &above{l: l, w: w} }

type above struct {
	l *Line
	w io.Writer
}

func (a *above) Write(p []byte) (int, error) {
	l := a.l
	l.screen.Lock()
	defer l.screen.Unlock()
	l.clear()
	n, err := a.w.Write(p)
	if len(p) > 0 {
		l.midLine = p[len(p)-1] != '\n'
	}
	l.draw()
	return n, err
}

// clear takes the live line off the screen. Call with screen held.
func (l *Line) clear() {
	if l.shown {
		io.WriteString(l.out, clearLine)
		l.shown = false
	}
}

// draw puts the runs' line on the screen, unless none is going or some text is
// waiting for the end of its line. Call with screen held (and not mu).
func (l *Line) draw() {
	if l.midLine {
		return
	}
	l.mu.Lock()
	now := l.now()
	parts := make([]string, len(l.runs))
	for i, r := range l.runs {
		parts[i] = r.line(now)
	}
	l.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	io.WriteString(l.out, "\r"+l.cut(strings.Join(parts, " | "))+"\x1b[K")
	l.shown = true
}

// cut shortens s to one column less than the terminal's width.
func (l *Line) cut(s string) string {
	w := l.width() - 1
	if w <= 0 || utf8.RuneCountInString(s) <= w {
		return s
	}
	return string([]rune(s)[:w])
}

// line is a going run's text.
func (r *run) line(now time.Time) string {
	var b strings.Builder
	r.counts(&b)
	elapsed := now.Sub(r.begin)
	if r.done > 0 && elapsed > 0 {
		rate := float64(r.done) / elapsed.Seconds()
		fmt.Fprintf(&b, ", rate %s/s", rateString(rate))
		if left := r.total - r.done; left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second))
			fmt.Fprintf(&b, ", ETA %s", durationString(eta))
		}
	} else {
		b.WriteString(", rate -, ETA -")
	}
	fmt.Fprintf(&b, ", running %d", len(r.live))
	return b.String()
}

// final is a run's text once it ended.
func (r *run) final(now time.Time, err error) string {
	var b strings.Builder
	r.counts(&b)
	elapsed := now.Sub(r.begin)
	if r.done > 0 && elapsed > 0 {
		fmt.Fprintf(&b, ", rate %s/s", rateString(float64(r.done)/elapsed.Seconds()))
	}
	if err != nil {
		fmt.Fprintf(&b, ", stopped after %s: %v", durationString(elapsed), err)
	} else {
		fmt.Fprintf(&b, ", done in %s", durationString(elapsed))
	}
	return b.String()
}

func (r *run) counts(b *strings.Builder) {
	fmt.Fprintf(b, "[%s] ", r.stage)
	if r.iterations > 1 {
		fmt.Fprintf(b, "iteration %d/%d, ", max(r.iteration, 1), r.iterations)
	}
	fmt.Fprintf(b, "episodes %d/%d (resolved %d", r.done, r.total, r.resolved)
	if r.abandoned > 0 {
		fmt.Fprintf(b, ", abandoned %d", r.abandoned)
	}
	b.WriteString(")")
}

// rateString prints a rate with two significant digits or so: 0.25, 2.4, 37.
func rateString(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f", x)
	case x >= 1:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// durationString prints d rounded to the second (a tenth under 10s): 3.2s, 38s, 2m05s, 1h02m.
func durationString(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		s := int(d.Round(time.Second).Seconds())
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := int(d.Round(time.Minute).Minutes())
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}
