package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/observe/ui"
)

func TestStartUIServesAndStops(t *testing.T) {
	var stderr bytes.Buffer
	w, stop, err := startUI("127.0.0.1:0", &stderr, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^ui: (http://127\.0\.0\.1:\d+/)\n$`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr %q: want one line ui: http://127.0.0.1:PORT/", stderr.String())
	}
	w.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 2})
	resp, err := http.Get(m[1] + "api/state")
	if err != nil {
		t.Fatal(err)
	}
	var st ui.State
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Run == nil || st.Run.Stage != "eval" {
		t.Fatalf("/api/state after RunStarted: %v %+v", err, st.Run)
	}
	resp, err = http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `id="grid"`) {
		t.Errorf("/ is not the page: %.200s", page)
	}
	stop()
	if _, err := http.Get(m[1] + "api/state"); err == nil {
		t.Error("the page still answers after stop")
	}
}

func TestStartUIRejectsBadAddresses(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{"not-an-address", busy.Addr().String()} {
		_, _, err := startUI(addr, io.Discard, hclog.NewNullLogger())
		if err == nil || !strings.Contains(err.Error(), "--ui "+addr) || !strings.Contains(err.Error(), "127.0.0.1:0") {
			t.Errorf("startUI(%q): %v; want an error naming --ui %s and the fix", addr, err, addr)
		}
	}
	// Through the command line: a busy --ui fails the command before it runs.
	err = run(t.Context(), []string{"train", "--out", t.TempDir(), "--ui", busy.Addr().String()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--ui "+busy.Addr().String()) {
		t.Errorf("train --ui on a busy address: %v", err)
	}
}
