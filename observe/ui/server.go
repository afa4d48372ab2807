package ui

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

//go:embed static
var static embed.FS

// Options tune a Server; the zero value is fine.
type Options struct {
	// MaxTrajectories caps the finished episodes the viewer can open (the current and
	// the previous run's, newest kept); 0 means 4000, negative keeps none.
	MaxTrajectories int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Server is the live page: an observe.Watcher that keeps a bounded model of the run
// and an http.Handler that serves it. All methods are safe for concurrent use; the
// Watcher methods only take a mutex for the time of a small update.
type Server struct {
	mu  sync.Mutex
	st  *state
	mux *http.ServeMux

	keepTrajs bool
}

var _ observe.Watcher = (*Server)(nil)

// New returns a Server with nothing seen yet.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxTrajectories == 0 {
		opts.MaxTrajectories = defaultMaxTrajs
	}
	s := &Server{st: newState(opts.Now, opts.MaxTrajectories), mux: http.NewServeMux(), keepTrajs: opts.MaxTrajectories > 0}
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	s.mux.Handle("GET /", http.FileServerFS(files))
	s.mux.HandleFunc("GET /api/state", s.serveState)
	s.mux.HandleFunc("GET /api/episode", s.serveEpisode)
	s.mux.HandleFunc("GET /curve.svg", s.serveCurve)
	return s
}

func (s *Server) with(f func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.st)
}

// Observe implements actors.Observer.
func (s *Server) Observe(e actors.Event) {
	switch e.Kind {
	case actors.EventIterationStarted, actors.EventPhase, actors.EventTurn:
		s.with(func(st *state) { st.observe(e) })
	}
}

// RunStarted implements observe.Watcher.
func (s *Server) RunStarted(r observe.Run) { s.with(func(st *state) { st.runStarted(r) }) }

// Record implements observe.Watcher.
func (s *Server) Record(stage string, r messages.EpisodeRecord) {
	var t *Trajectory
	if s.keepTrajs {
		t = newTrajectory(stage, r)
	}
	s.with(func(st *state) { st.record(r, t) })
}

// Iteration implements observe.Watcher.
func (s *Server) Iteration(stage string, r actors.IterationReport) {
	s.with(func(st *state) { st.iterationDone(stage, r) })
}

// Eval implements observe.Watcher.
func (s *Server) Eval(e observe.Eval) { s.with(func(st *state) { st.eval(e) }) }

// RunEnded implements observe.Watcher.
func (s *Server) RunEnded(_ string, err error) { s.with(func(st *state) { st.runEnded(err) }) }

// Snapshot returns a copy of the page's model (what /api/state serves).
func (s *Server) Snapshot() State {
	var out State
	s.with(func(st *state) { out = st.snapshot() })
	out.order()
	return out
}

// Trajectory returns the finished episode key names, if the viewer still keeps it.
func (s *Server) Trajectory(key string) (Trajectory, bool) {
	var t Trajectory
	var ok bool
	s.with(func(st *state) {
		var p *Trajectory
		if p, ok = st.trajs[key]; ok {
			t = *p
		}
	})
	return t, ok
}

// ServeHTTP implements http.Handler: / (the page), /api/state, /api/episode?key=,
// /curve.svg.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) serveState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Snapshot())
}

func (s *Server) serveEpisode(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "/api/episode needs ?key=r<run>/k<iteration>/g<group>/s<sample> (a finished cell's key, see /api/state)"})
		return
	}
	t, ok := s.Trajectory(key)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "episode " + key + ": not finished, or no longer kept (the viewer keeps the current and previous run's finished episodes); pick a finished cell from /api/state"})
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) serveCurve(w http.ResponseWriter, _ *http.Request) {
	var svg []byte
	s.with(func(st *state) { svg = st.curve() })
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(svg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
