package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// serveShutdown bounds how long stopping a watcher's server waits for the requests in
// flight (a scrape, a page poll).
const serveShutdown = 5 * time.Second

// serve listens on addr for the flag named flagName (":0" picks a free port) and serves
// h there. It returns the address it got and a stop func that shuts the server down and
// waits for it. A bad or busy address is an error naming the flag, the address and, as
// the fix, example.
func serve(flagName, addr, example string, h http.Handler, log hclog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: cannot listen there (%w); give HOST:PORT with a free port, e.g. %s, or 127.0.0.1:0 to pick one",
			flagName, addr, err, example)
	}
	log = log.Named(flagName[2:])
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), serveShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("server did not shut down cleanly", "error", err)
			srv.Close()
		}
		<-done
	}
	return ln.Addr(), stop, nil
}
