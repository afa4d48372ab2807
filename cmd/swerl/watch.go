package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
)

// watchFlags are how a person watches a long command (train, rollout, node): the
// Prometheus endpoint, the live page, the terminal's progress line and the logs.
type watchFlags struct {
	metricsAddr string
	uiAddr      string
	quiet       bool
	logFormat   string
	logLevel    string
}

// register adds the flags; ui says whether the command serves the live page, level is
// the default of --log-level.
func (w *watchFlags) register(fs *flag.FlagSet, ui bool, level string) {
	fs.StringVar(&w.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; :0 picks a port)")
	if ui {
		fs.StringVar(&w.uiAddr, "ui", "", "serve the live page at http://ADDR/ (e.g. 127.0.0.1:8080; :0 picks a port)")
	}
	fs.BoolVar(&w.quiet, "quiet", false, "no progress: neither the live line drawn when stderr is a terminal nor the plain progress lines; "+
		"errors, the logs that --log-level lets through, and the final summary still print")
	fs.StringVar(&w.logFormat, "log-format", "text", "format of the logs on stderr: text, or json (one object a line; "+
		"a run's lines carry its run id, an episode's lines its iteration, episode and attempt)")
	fs.StringVar(&w.logLevel, "log-level", level, "least level of the logs on stderr: trace, debug, info, warn, error or off (a cluster head, --cluster, defaults to info)")
}

// watching is what a command runs with: the watcher of its runs, its logger, and the
// progress writer (nil: quiet).
type watching struct {
	Watcher  observe.Watcher
	Log      hclog.Logger
	Progress io.Writer
	line     observe.Watcher // the live progress line on the terminal; nil: none
	stops    []func()
}

// Stop shuts the servers down (after the command's last report).
func (w *watching) Stop() {
	for i := len(w.stops) - 1; i >= 0; i-- {
		w.stops[i]()
	}
}

// start validates the flags, starts the servers the flags ask for, and prints their
// addresses on stderr. name is the logger's name.
func (w *watchFlags) start(stderr io.Writer, name string) (*watching, error) {
	out := &watching{}
	logOut := stderr
	if !w.quiet {
		// Logs and plain lines go above the live line, if there is one.
		out.line, out.Progress = startProgress(stderr)
		logOut = out.Progress
	}
	log, err := w.logger(logOut, name)
	if err != nil {
		return nil, err
	}
	out.Log = log
	if c, ok := out.line.(io.Closer); ok {
		out.stops = append(out.stops, func() { c.Close() })
	}
	var ws []observe.Watcher
	if w.metricsAddr != "" {
		mw, stop, err := startMetrics(w.metricsAddr, stderr, log)
		if err != nil {
			return nil, err
		}
		ws, out.stops = append(ws, mw), append(out.stops, stop)
	}
	if w.uiAddr != "" {
		uw, stop, err := startUI(w.uiAddr, stderr, log)
		if err != nil {
			out.Stop()
			return nil, err
		}
		ws, out.stops = append(ws, uw), append(out.stops, stop)
	}
	ws = append(ws, out.line)
	out.Watcher = observe.Multi(ws...)
	return out, nil
}

// headLogsAtInfo makes info the default of --log-level when the command heads a
// cluster (cf.name set) and the user did not give the flag: a head's membership lines
// (a worker joined, lost, the cluster's summary) are info, and an operator needs them.
func (w *watchFlags) headLogsAtInfo(fs *flag.FlagSet, cf *clusterFlags) {
	if cf.name == "" {
		return
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "log-level" })
	if !given {
		w.logLevel = "info"
	}
}

// logger builds the command's hclog logger from --log-format and --log-level.
func (w *watchFlags) logger(stderr io.Writer, name string) (hclog.Logger, error) {
	level := hclog.LevelFromString(w.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level %q: not a level; use trace, debug, info, warn, error or off", w.logLevel)
	}
	var json bool
	switch w.logFormat {
	case "text":
	case "json":
		json = true
	default:
		return nil, fmt.Errorf("--log-format %q: not a format; use text or json", w.logFormat)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: stderr, Level: level, JSONFormat: json,
		TimeFormat: "15:04:05.000"}), nil
}
