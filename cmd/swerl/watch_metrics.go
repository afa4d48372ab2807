package main

import (
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
)

// startMetrics serves Prometheus metrics at addr. (Being built: issue 16.)
func startMetrics(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	return nil, nil, errors.New("--metrics-addr: not built yet")
}
