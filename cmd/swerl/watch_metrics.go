package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/observe/prom"
)

// startMetrics serves Prometheus metrics at http://addr/metrics (":0" and
// "127.0.0.1:0" pick a free port) and prints the address it got on stderr. It returns
// the watcher that keeps the metrics and a stop func that shuts the server down; a bad
// or busy address is an error naming --metrics-addr.
func startMetrics(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	m := prom.New()
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	got, stop, err := serve("--metrics-addr", addr, "127.0.0.1:9464", mux, log)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "metrics: http://%s/metrics\n", got)
	return m, stop, nil
}
