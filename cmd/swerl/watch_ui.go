package main

import (
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
)

// startUI serves the live page at addr. (Being built: issue 16.)
func startUI(addr string, stderr io.Writer, log hclog.Logger) (observe.Watcher, func(), error) {
	return nil, nil, errors.New("--ui: not built yet")
}
