package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/observe/progress"
)

// startProgress returns the progress watcher and the writer for plain progress lines
// and logs. When stderr is a terminal the watcher draws a live line per engine run on
// it (observe/progress), and the writer puts its text above that line; otherwise (CI,
// pipes, a file) there is no watcher and the writer is stderr itself: the commands'
// plain lines are the progress.
//
// golang.org/x/term rather than mattn/go-isatty: it also gives the terminal's width
// (the line is cut to it so that it never wraps), and it is the Go team's.
func startProgress(stderr io.Writer) (observe.Watcher, io.Writer) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, stderr
	}
	fd := int(f.Fd())
	line := progress.New(f, progress.Options{Width: func() int {
		w, _, err := term.GetSize(fd)
		if err != nil {
			return 0
		}
		return w
	}})
	return line, line.Writer(f)
}

// onScreen returns out, or a writer that puts out's text above the live line when out
// is a terminal too (stdout beside stderr), so that the two do not mix.
func (w *watching) onScreen(out io.Writer) io.Writer {
	line, ok := w.line.(*progress.Line)
	if !ok {
		return out
	}
	if f, ok := out.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return out
	}
	return line.Writer(out)
}
