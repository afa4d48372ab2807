package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// op is one step of a table test: announce a worker, place an episode (wanting the
// worker it lands on, "" for no free slot), or release an attempt.
type op struct {
	announce *Worker
	grew     bool // Announce's answer

	place Key
	want  string

	release Key
	attempt int
	ok      bool // Release's answer
}

func announce(id string, slots int, grew bool) op {
	return op{announce: &Worker{ID: id, Address: id + ":1", Slots: slots}, grew: grew}
}
func place(k Key, want string) op { return op{place: k, want: want} }
func release(k Key, attempt int, ok bool) op {
	return op{release: k, attempt: attempt, ok: ok}
}

func TestPlaceAnnounceRelease(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"no worker", []op{place("e1", "")}},
		{"zero slots", []op{announce("A", 0, false), place("e1", "")}},
		{"most free slots wins", []op{announce("A", 2, true), announce("B", 3, true), place("e1", "B")}},
		{"equal free: fewer in flight wins", []op{
			announce("A", 3, true), place("e1", "A"), // A: 2 free, 1 in flight
			announce("B", 2, true), // B: 2 free, 0 in flight
			place("e2", "B"),
		}},
		{"equal free and in flight: smaller ID wins", []op{
			announce("C", 1, true), announce("B", 1, true), announce("A", 1, true),
			place("e1", "A"), place("e2", "B"), place("e3", "C"), place("e4", ""),
		}},
		{"spreads, then full", []op{
			announce("A", 2, true), announce("B", 3, true),
			place("e1", "B"), // A 2/0, B 3/0
			place("e2", "A"), // A 2/0, B 2/1: fewer in flight
			place("e3", "B"), // A 1/1, B 2/1
			place("e4", "A"), // A 1/1, B 1/2
			place("e5", "B"), // A 0, B 1
			place("e6", ""),
		}},
		{"release frees the slot", []op{
			announce("A", 1, true), place("e1", "A"), place("e2", ""),
			release("e1", 1, true), place("e2", "A"),
		}},
		{"release of an unplaced episode is a no-op", []op{
			announce("A", 1, true), release("e1", 1, false), place("e1", "A"), place("e2", ""),
		}},
		{"announce: the same slots is no growth", []op{announce("A", 2, true), announce("A", 2, false)}},
		{"announce: fewer slots is no growth", []op{announce("A", 2, true), announce("A", 1, false)}},
		{"announce: more slots is growth", []op{
			announce("A", 1, true), place("e1", "A"), place("e2", ""),
			announce("A", 2, true), place("e2", "A"),
		}},
		{"announce: a worker first seen with zero slots, then some", []op{
			announce("A", 0, false), place("e1", ""), announce("A", 1, true), place("e1", "A"),
		}},
		{"announce: shrinking below the work in flight blocks placement", []op{
			announce("A", 2, true), place("e1", "A"), place("e2", "A"),
			announce("A", 1, false), release("e1", 1, true), place("e3", ""),
			release("e2", 1, true), place("e3", "A"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := New()
			for i, o := range tc.ops {
				switch {
				case o.announce != nil:
					if got := tb.Announce(*o.announce); got != o.grew {
						t.Fatalf("op %d: Announce(%+v) = %v, want %v", i, *o.announce, got, o.grew)
					}
				case o.place != "":
					a, ok := tb.Place(o.place)
					if o.want == "" {
						if ok {
							t.Fatalf("op %d: Place(%s) = %+v, want no free slot", i, o.place, a)
						}
						continue
					}
					if !ok || a.Worker.ID != o.want {
						t.Fatalf("op %d: Place(%s) = %+v, %v; want worker %s (loads %+v)", i, o.place, a, ok, o.want, tb.Loads())
					}
					if a.Key != o.place || !tb.Current(o.place, a.Attempt) {
						t.Fatalf("op %d: Place(%s) = %+v is not the current assignment", i, o.place, a)
					}
				default:
					if got := tb.Release(o.release, o.attempt); got != o.ok {
						t.Fatalf("op %d: Release(%s, %d) = %v, want %v", i, o.release, o.attempt, got, o.ok)
					}
				}
				checkInvariants(t, tb)
			}
		})
	}
}

func TestAnnounceUpdatesAddress(t *testing.T) {
	tb := New()
	tb.Announce(Worker{ID: "A", Address: "h1:1", Slots: 1})
	if tb.Announce(Worker{ID: "A", Address: "h2:1", Slots: 1}) {
		t.Fatal("a new address with the same slots reported growth")
	}
	a, ok := tb.Place("e1")
	if !ok || a.Worker.Address != "h2:1" {
		t.Fatalf("Place = %+v, %v; want the new address h2:1", a, ok)
	}
	if got := tb.Loads(); len(got) != 1 || got[0].Address != "h2:1" || got[0].InFlight != 1 {
		t.Fatalf("Loads = %+v", got)
	}
}

func TestLeave(t *testing.T) {
	tb := New()
	tb.Announce(Worker{ID: "A", Slots: 3})
	tb.Announce(Worker{ID: "B", Slots: 3})
	onA := map[Key]int{}
	for _, k := range []Key{"e5", "e1", "e4", "e2", "e3", "e0"} {
		a, ok := tb.Place(k)
		if !ok {
			t.Fatalf("Place(%s): no slot", k)
		}
		if a.Worker.ID == "A" {
			onA[k] = a.Attempt
		}
	}
	if len(onA) != 3 {
		t.Fatalf("%d episodes on A, want 3 (loads %+v)", len(onA), tb.Loads())
	}
	lost := tb.Leave("A")
	if len(lost) != len(onA) {
		t.Fatalf("Leave(A) = %+v, want the %d assignments on A", lost, len(onA))
	}
	if !slices.IsSortedFunc(lost, func(a, b Assignment) int { return cmpKey(a.Key, b.Key) }) {
		t.Errorf("Leave(A) = %+v, not sorted by key", lost)
	}
	for _, a := range lost {
		if a.Worker.ID != "A" || onA[a.Key] != a.Attempt {
			t.Errorf("Leave(A) returned %+v, which was not on A (A had %v)", a, onA)
		}
		if tb.Current(a.Key, a.Attempt) {
			t.Errorf("%s attempt %d is still current after its worker left", a.Key, a.Attempt)
		}
		if tb.Release(a.Key, a.Attempt) {
			t.Errorf("Release(%s, %d) after its worker left = true", a.Key, a.Attempt)
		}
	}
	if tb.Has("A") {
		t.Error("A is still in the table")
	}
	if got := tb.Loads(); len(got) != 1 || got[0].ID != "B" || got[0].InFlight != 3 {
		t.Fatalf("Loads after Leave(A) = %+v, want only B with 3 in flight", got)
	}
	if again := tb.Leave("A"); again != nil {
		t.Errorf("second Leave(A) = %+v, want nil", again)
	}
	if none := tb.Leave("nobody"); none != nil {
		t.Errorf("Leave(nobody) = %+v, want nil", none)
	}
	checkInvariants(t, tb)

	// B is full: nothing can be placed again until capacity comes back.
	if a, ok := tb.Place(lost[0].Key); ok {
		t.Fatalf("Place on a full table = %+v", a)
	}
	tb.Announce(Worker{ID: "C", Slots: 3})
	for _, old := range lost {
		a, ok := tb.Place(old.Key)
		if !ok || a.Worker.ID != "C" {
			t.Fatalf("Place(%s) again = %+v, %v; want C", old.Key, a, ok)
		}
		// The failed Place above also consumed no attempt: only placements count.
		if a.Attempt != old.Attempt+1 {
			t.Errorf("Place(%s) again: attempt %d, want %d (a new attempt)", old.Key, a.Attempt, old.Attempt+1)
		}
		if tb.Current(old.Key, old.Attempt) || !tb.Current(old.Key, a.Attempt) {
			t.Errorf("%s: the fence still admits attempt %d or refuses %d", old.Key, old.Attempt, a.Attempt)
		}
	}
	checkInvariants(t, tb)
}

func TestFenceByAttempt(t *testing.T) {
	tb := New()
	tb.Announce(Worker{ID: "A", Slots: 1})
	first, ok := tb.Place("e")
	if !ok || first.Attempt != 1 {
		t.Fatalf("first Place = %+v, %v; want attempt 1", first, ok)
	}
	// A has one slot, held by the episode itself: placing it again must free the old
	// slot first, or it would find no room.
	second, ok := tb.Place("e")
	if !ok || second.Attempt != 2 || second.Worker.ID != "A" {
		t.Fatalf("Place again = %+v, %v; want attempt 2 on A", second, ok)
	}
	if got := tb.Loads()[0].InFlight; got != 1 {
		t.Fatalf("in flight on A after placing again = %d, want 1 (the old slot released)", got)
	}
	if tb.Current("e", first.Attempt) {
		t.Error("the old attempt is still current")
	}
	if !tb.Current("e", second.Attempt) {
		t.Error("the new attempt is not current")
	}
	if tb.Current("e", 3) || tb.Current("other", 1) {
		t.Error("Current admits an attempt never handed out")
	}
	if tb.Release("e", first.Attempt) {
		t.Error("the old attempt's Release succeeded")
	}
	if got := tb.Loads()[0].InFlight; got != 1 {
		t.Fatalf("an old attempt's Release changed in flight to %d", got)
	}
	if !tb.Release("e", second.Attempt) {
		t.Fatal("the current attempt's Release failed")
	}
	if tb.Release("e", second.Attempt) {
		t.Error("a second Release of the same attempt succeeded")
	}
	if tb.Current("e", second.Attempt) {
		t.Error("a released attempt is still current")
	}
	if got := tb.Loads()[0].InFlight; got != 0 {
		t.Fatalf("in flight after Release = %d, want 0", got)
	}
	third, ok := tb.Place("e")
	if !ok || third.Attempt != 3 {
		t.Fatalf("Place after Release = %+v, %v; want attempt 3 (attempts are never reused)", third, ok)
	}
	checkInvariants(t, tb)
}

// Re-placing an episode whose old worker is full elsewhere: the old slot is freed even
// when the episode lands on another worker.
func TestPlaceAgainMovesTheSlot(t *testing.T) {
	tb := New()
	tb.Announce(Worker{ID: "A", Slots: 1})
	a, _ := tb.Place("e")
	tb.Announce(Worker{ID: "B", Slots: 5})
	b, ok := tb.Place("e")
	if !ok || b.Worker.ID != "B" || b.Attempt != a.Attempt+1 {
		t.Fatalf("Place again = %+v, %v; want attempt %d on B", b, ok, a.Attempt+1)
	}
	loads := tb.Loads()
	if loads[0].InFlight != 0 || loads[1].InFlight != 1 {
		t.Fatalf("loads = %+v, want A 0 and B 1 in flight", loads)
	}
	checkInvariants(t, tb)
}

// Many goroutines place, release, and lose workers at once; the counts stay
// consistent throughout (run with -race).
func TestConcurrentPlaceRelease(t *testing.T) {
	const (
		goroutines = 16
		rounds     = 300
		workers    = 4
	)
	seed := rand.Uint64()
	tb := New()
	for w := range workers {
		tb.Announce(Worker{ID: fmt.Sprintf("w%d", w), Slots: 5})
	}
	var wg sync.WaitGroup
	got := make([][]Assignment, goroutines) // every placement, per goroutine
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			var mine []Assignment // placed by this goroutine and maybe still live
			for range rounds {
				switch r := rng.IntN(10); {
				case r < 5:
					// Keys are shared between goroutines: two may race on one episode.
					k := Key(fmt.Sprintf("e%d", rng.IntN(40)))
					if a, ok := tb.Place(k); ok {
						mine = append(mine, a)
						got[g] = append(got[g], a)
					}
				case r < 9 && len(mine) > 0:
					i := rng.IntN(len(mine))
					tb.Release(mine[i].Key, mine[i].Attempt)
					mine = slices.Delete(mine, i, i+1)
				case r == 9 && g%4 == 0:
					id := fmt.Sprintf("w%d", rng.IntN(workers))
					tb.Leave(id)
					tb.Announce(Worker{ID: id, Slots: 5})
				}
				if rng.IntN(20) == 0 {
					if err := invariants(tb); err != nil {
						t.Errorf("seed %d: %v", seed, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := invariants(tb); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	// Every placement of a key got its own attempt number.
	seen := map[Key]map[int]bool{}
	for _, as := range got {
		for _, a := range as {
			if seen[a.Key] == nil {
				seen[a.Key] = map[int]bool{}
			}
			if seen[a.Key][a.Attempt] {
				t.Errorf("seed %d: %s attempt %d handed out twice", seed, a.Key, a.Attempt)
			}
			seen[a.Key][a.Attempt] = true
		}
	}
	// Release what is left: the table drains to zero.
	for k, a := range snapshot(tb) {
		if !tb.Release(k, a.Attempt) {
			t.Errorf("seed %d: Release of the live %+v failed", seed, a)
		}
	}
	for _, l := range tb.Loads() {
		if l.InFlight != 0 {
			t.Errorf("seed %d: %s has %d in flight after every release", seed, l.ID, l.InFlight)
		}
	}
}

func snapshot(t *Table) map[Key]Assignment {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[Key]Assignment, len(t.current))
	for k, a := range t.current {
		out[k] = a
	}
	return out
}

// invariants: each worker's InFlight is the number of live assignments on it, within
// 0..Slots, and every live assignment is on a worker in the table with the attempt
// last handed out.
func invariants(t *Table) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	on := map[string]int{}
	for k, a := range t.current {
		if a.Key != k {
			return fmt.Errorf("assignment %+v filed under %s", a, k)
		}
		if _, ok := t.workers[a.Worker.ID]; !ok {
			return fmt.Errorf("assignment %+v is on a worker not in the table", a)
		}
		if a.Attempt != t.attempts[k] {
			return fmt.Errorf("assignment %+v is not the last attempt (%d)", a, t.attempts[k])
		}
		on[a.Worker.ID]++
	}
	sum := 0
	for id, l := range t.workers {
		if l.InFlight != on[id] {
			return fmt.Errorf("worker %s: InFlight %d, but %d live assignments", id, l.InFlight, on[id])
		}
		if l.InFlight < 0 {
			return fmt.Errorf("worker %s: InFlight %d", id, l.InFlight)
		}
		sum += l.InFlight
	}
	if sum != len(t.current) {
		return fmt.Errorf("sum of InFlight %d, live assignments %d", sum, len(t.current))
	}
	return nil
}

func checkInvariants(t *testing.T, tb *Table) {
	t.Helper()
	if err := invariants(tb); err != nil {
		t.Fatal(err)
	}
}

func cmpKey(a, b Key) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
