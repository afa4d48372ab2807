// Package placement decides where each episode of a cluster run goes: the worker with
// the most free sandbox slots among the live ones, from the capacity each worker
// announces. It fences by attempt: every placement of an episode gets a new attempt
// number, and only the current attempt's replies count, so a late or doubled reply from
// a worker that was cut off and came back is recognised and dropped.
//
// It is plain, lock-guarded state with no clock and no I/O: the head's actors drive it
// from membership events and replies, and its tests drive it by hand.
package placement

import (
	"slices"
	"strings"
	"sync"
)

// Key names an episode within a run (its iteration, group and sample, rendered by the
// caller).
type Key string

// Worker is a live member that runs episodes.
type Worker struct {
	ID      string
	Address string
	Slots   int // concurrent episodes it takes (its sandbox cap); 0 until it announces
}

// Assignment is one placement of an episode: attempt N on a worker.
type Assignment struct {
	Key     Key
	Worker  Worker
	Attempt int
}

// Load is a worker and its work in flight.
type Load struct {
	Worker
	InFlight int
}

// Table is the head's view of workers and the episodes placed on them. It is safe for
// concurrent use.
type Table struct {
	mu       sync.Mutex
	workers  map[string]*Load
	current  map[Key]Assignment // the live assignment of each placed episode
	attempts map[Key]int        // the last attempt number handed out, per episode
}

// New returns an empty table.
func New() *Table {
	return &Table{workers: map[string]*Load{}, current: map[Key]Assignment{}, attempts: map[Key]int{}}
}

// Announce adds the worker or updates its address and slots. It returns whether the
// table now has more free slots than before (waiting episodes should try again).
func (t *Table) Announce(w Worker) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.workers[w.ID]
	if !ok {
		t.workers[w.ID] = &Load{Worker: w}
		return w.Slots > 0
	}
	grew := w.Slots > l.Slots
	l.Worker = w
	return grew
}

// Leave removes the worker and returns the assignments that were on it, sorted by key:
// their episodes must be placed again (as new attempts) or given up.
func (t *Table) Leave(id string) []Assignment {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.workers[id]; !ok {
		return nil
	}
	delete(t.workers, id)
	var lost []Assignment
	for k, a := range t.current {
		if a.Worker.ID == id {
			lost = append(lost, a)
			delete(t.current, k)
		}
	}
	slices.SortFunc(lost, func(a, b Assignment) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return lost
}

// Place puts the episode on the worker with the most free slots (ties: fewer in
// flight, then the smaller ID) as a new attempt, replacing any assignment it had. It
// returns false when no worker has a free slot.
func (t *Table) Place(k Key) (Assignment, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.current[k]; ok {
		t.releaseLocked(old)
	}
	var best *Load
	for _, l := range t.workers {
		free := l.Slots - l.InFlight
		if free <= 0 {
			continue
		}
		if best == nil {
			best = l
			continue
		}
		bf := best.Slots - best.InFlight
		if free > bf || (free == bf && (l.InFlight < best.InFlight || (l.InFlight == best.InFlight && l.ID < best.ID))) {
			best = l
		}
	}
	if best == nil {
		return Assignment{}, false
	}
	t.attempts[k]++
	a := Assignment{Key: k, Worker: best.Worker, Attempt: t.attempts[k]}
	best.InFlight++
	t.current[k] = a
	return a, true
}

// Current reports whether attempt is the episode's live assignment: the fence every
// reply passes before it counts.
func (t *Table) Current(k Key, attempt int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.current[k]
	return ok && a.Attempt == attempt
}

// Release ends the episode's assignment if attempt is the current one (its record is
// in, or it was stopped), freeing the worker's slot. It reports whether it did.
func (t *Table) Release(k Key, attempt int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.current[k]
	if !ok || a.Attempt != attempt {
		return false
	}
	t.releaseLocked(a)
	return true
}

func (t *Table) releaseLocked(a Assignment) {
	delete(t.current, a.Key)
	if l, ok := t.workers[a.Worker.ID]; ok {
		l.InFlight--
	}
}

// Loads returns every worker with its work in flight, sorted by ID.
func (t *Table) Loads() []Load {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Load, 0, len(t.workers))
	for _, l := range t.workers {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Load) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Has reports whether the worker is in the table.
func (t *Table) Has(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.workers[id]
	return ok
}
