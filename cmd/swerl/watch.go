package main

import (
	"errors"
	"flag"
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
	fs.BoolVar(&w.quiet, "quiet", false, "no progress on the terminal (logs at warn and above still go to stderr)")
	fs.StringVar(&w.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&w.logLevel, "log-level", level, "log level on stderr: trace, debug, info, warn, error")
}

// watching is what a command runs with: the watcher of its runs, its logger, and the
// progress writer (nil: quiet).
type watching struct {
	Watcher  observe.Watcher
	Log      hclog.Logger
	Progress io.Writer
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
	log, err := w.logger(stderr, name)
	if err != nil {
		return nil, err
	}
	out := &watching{Log: log}
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
	if !w.quiet {
		pw, progress := startProgress(stderr)
		ws, out.Progress = append(ws, pw), progress
	}
	out.Watcher = observe.Multi(ws...)
	return out, nil
}

// logger builds the command's hclog logger from --log-format and --log-level.
func (w *watchFlags) logger(stderr io.Writer, name string) (hclog.Logger, error) {
	level := hclog.LevelFromString(w.logLevel)
	if level == hclog.NoLevel {
		return nil, errors.New("--log-level " + w.logLevel + ": use trace, debug, info, warn or error")
	}
	var json bool
	switch w.logFormat {
	case "text":
	case "json":
		json = true
	default:
		return nil, errors.New("--log-format " + w.logFormat + ": use text or json")
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: stderr, Level: level, JSONFormat: json,
		TimeFormat: "15:04:05.000"}), nil
}
