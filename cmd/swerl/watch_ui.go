package main

import (
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/observe/ui"
)

// startUI serves the live page at addr (":0" picks a port), prints its address on
// stderr, and returns the page's watcher and the function that shuts it down; a bad or
// busy address is an error naming --ui.
func startUI(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	page := ui.New(ui.Options{})
	got, stop, err := serve("--ui", addr, "127.0.0.1:8080", page, log)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "ui: http://%s/\n", got)
	return page, stop, nil
}
