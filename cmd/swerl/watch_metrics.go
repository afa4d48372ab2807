package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/observe/prom"
)

// metricsShutdown bounds how long stopping the metrics server waits for scrapes in
// flight.
const metricsShutdown = 5 * time.Second

// startMetrics serves Prometheus metrics at http://addr/metrics (":0" and
// "127.0.0.1:0" pick a free port) and prints the address it got on stderr. It returns
// the watcher that keeps the metrics and a stop func that shuts the server down; a bad
// or busy address is an error naming --metrics-addr.
func startMetrics(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr %q: cannot listen there (%w); give HOST:PORT with a free port, e.g. 127.0.0.1:9464, or 127.0.0.1:0 to pick one", addr, err)
	}
	m := prom.New()
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.Named("metrics").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	url := "http://" + ln.Addr().String() + "/metrics"
	fmt.Fprintf(stderr, "metrics: %s\n", url)
	log.Debug("serving metrics", "url", url)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("metrics server did not shut down cleanly", "error", err)
			srv.Close()
		}
		<-done
	}
	return m, stop, nil
}
