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
	"github.com/swerl/swerl/observe/ui"
)

// uiShutdown bounds how long stopping the page waits for its open requests.
const uiShutdown = 5 * time.Second

// startUI serves the live page at addr (":0" picks a port), prints its address on
// stderr, and returns the page's watcher and the function that shuts it down.
func startUI(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--ui %s: cannot listen: %w (give a free HOST:PORT, e.g. 127.0.0.1:8080, or 127.0.0.1:0 to pick a port)", addr, err)
	}
	page := ui.New(ui.Options{})
	srv := &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.Named("ui").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("live page stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	fmt.Fprintf(stderr, "ui: http://%s/\n", ln.Addr())
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), uiShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("live page: shutdown", "error", err)
			srv.Close()
		}
		<-done
	}
	return page, stop, nil
}
