package membership_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/swerl/swerl/cluster/membership"
)

func worker(id, addr string) membership.Member {
	return membership.Member{ID: id, Address: addr, Role: membership.RoleWorker}
}

var (
	a1     = worker("A", "10.0.0.1:8000")
	a2     = worker("A", "10.0.0.9:8000") // A's address changed
	aHead  = membership.Member{ID: "A", Address: "10.0.0.1:8000", Role: membership.RoleHead}
	b1     = worker("B", "10.0.0.2:8000")
	c1     = worker("C", "10.0.0.3:8000")
	h1     = membership.Member{ID: "H", Address: "10.0.0.4:8000", Role: membership.RoleHead}
	noneOf []membership.Member
)

func TestUpdate(t *testing.T) {
	type step struct {
		update                []membership.Member
		members, joined, left []membership.Member
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"join from empty, sorted by ID", []step{
			{update: []membership.Member{c1, a1, h1, b1}, members: []membership.Member{a1, b1, c1, h1},
				joined: []membership.Member{a1, b1, c1, h1}},
		}},
		{"one leaves, one joins", []step{
			{update: []membership.Member{a1, b1}, members: []membership.Member{a1, b1}, joined: []membership.Member{a1, b1}},
			{update: []membership.Member{c1, a1}, members: []membership.Member{a1, c1},
				joined: []membership.Member{c1}, left: []membership.Member{b1}},
		}},
		{"all leave", []step{
			{update: []membership.Member{b1, a1}, members: []membership.Member{a1, b1}, joined: []membership.Member{a1, b1}},
			{update: nil, members: noneOf, left: []membership.Member{a1, b1}},
		}},
		{"nothing changed", []step{
			{update: []membership.Member{a1, b1}, members: []membership.Member{a1, b1}, joined: []membership.Member{a1, b1}},
			{update: []membership.Member{b1, a1}, members: []membership.Member{a1, b1}},
		}},
		{"empty to empty", []step{{update: nil, members: noneOf}}},
		{"address change under the same ID is left and joined", []step{
			{update: []membership.Member{a1, b1}, members: []membership.Member{a1, b1}, joined: []membership.Member{a1, b1}},
			{update: []membership.Member{a2, b1}, members: []membership.Member{a2, b1},
				joined: []membership.Member{a2}, left: []membership.Member{a1}},
		}},
		{"role change under the same ID is left and joined", []step{
			{update: []membership.Member{a1}, members: []membership.Member{a1}, joined: []membership.Member{a1}},
			{update: []membership.Member{aHead}, members: []membership.Member{aHead},
				joined: []membership.Member{aHead}, left: []membership.Member{a1}},
		}},
		{"several left and joined at once, sorted", []step{
			{update: []membership.Member{c1, a1, b1}, members: []membership.Member{a1, b1, c1}, joined: []membership.Member{a1, b1, c1}},
			{update: []membership.Member{h1, a2}, members: []membership.Member{a2, h1},
				joined: []membership.Member{a2, h1}, left: []membership.Member{a1, b1, c1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := membership.NewList()
			var got []membership.Event
			l.Subscribe(func(ev membership.Event) { got = append(got, ev) })
			calls := 0
			for i, s := range tc.steps {
				ev := l.Update(s.update)
				want := membership.Event{Members: s.members, Joined: s.joined, Left: s.left}
				if !sameEvent(ev, want) {
					t.Fatalf("step %d: Update(%v) = %+v, want %+v", i, s.update, ev, want)
				}
				if m := l.Members(); !sameMembers(m, s.members) {
					t.Fatalf("step %d: Members() = %v, want %v", i, m, s.members)
				}
				if len(s.joined)+len(s.left) > 0 {
					calls++
				}
				if len(got) != calls {
					t.Fatalf("step %d: subscriber called %d times, want %d (not called when nothing changed)", i, len(got), calls)
				}
				if calls > 0 && len(s.joined)+len(s.left) > 0 && !sameEvent(got[calls-1], want) {
					t.Fatalf("step %d: subscriber got %+v, want %+v", i, got[calls-1], want)
				}
			}
		})
	}
}

// Subscribers are called in the order they subscribed, each with every change in
// order; an unsubscribed one is called no more, and the others still are.
func TestSubscribers(t *testing.T) {
	l := membership.NewList()
	var log []string
	sub := func(name string) func() {
		return l.Subscribe(func(ev membership.Event) {
			log = append(log, fmt.Sprintf("%s:%s", name, ids(ev.Members)))
		})
	}
	unsubA := sub("a")
	unsubB := sub("b")
	sub("c")

	l.Update([]membership.Member{a1})
	l.Update([]membership.Member{a1, b1})
	l.Update([]membership.Member{b1, a1}) // no change: nobody is called
	unsubB()
	unsubB() // twice is harmless
	l.Update([]membership.Member{b1})
	unsubA()
	l.Update(nil)

	want := []string{
		"a:A", "b:A", "c:A",
		"a:AB", "b:AB", "c:AB",
		"a:B", "c:B",
		"c:",
	}
	if !slices.Equal(log, want) {
		t.Fatalf("calls = %v\nwant    %v", log, want)
	}
}

// A subscriber that joins late sees only the changes after it subscribed; Members
// gives it the list so far.
func TestSubscribeLate(t *testing.T) {
	l := membership.NewList()
	l.Update([]membership.Member{a1, b1})
	var got []membership.Event
	unsub := l.Subscribe(func(ev membership.Event) { got = append(got, ev) })
	defer unsub()
	if m := l.Members(); !sameMembers(m, []membership.Member{a1, b1}) {
		t.Fatalf("Members() = %v", m)
	}
	l.Update([]membership.Member{b1})
	if len(got) != 1 || !sameEvent(got[0], membership.Event{Members: []membership.Member{b1}, Left: []membership.Member{a1}}) {
		t.Fatalf("events = %+v", got)
	}
}

// Members returns a copy: changing it does not change the list.
func TestMembersIsACopy(t *testing.T) {
	l := membership.NewList()
	l.Update([]membership.Member{a1, b1})
	m := l.Members()
	m[0].Address = "elsewhere"
	if got := l.Members(); got[0] != a1 {
		t.Fatalf("Members() after changing a returned slice = %v", got)
	}
}

// Updates from many goroutines: the subscribers are called one at a time (the race
// detector checks the unguarded state below) and in order, so replaying the events'
// joins and leaves gives the final list.
func TestConcurrentUpdates(t *testing.T) {
	seed := rand.Uint64()
	l := membership.NewList()
	var (
		replay = map[string]membership.Member{} // touched only by the subscriber, unguarded on purpose
		last   []membership.Member
		events int
	)
	l.Subscribe(func(ev membership.Event) {
		events++
		for _, m := range ev.Left {
			if replay[m.ID] != m {
				t.Errorf("seed %d: %v left but was not in the list", seed, m)
			}
			delete(replay, m.ID)
		}
		for _, m := range ev.Joined {
			if _, ok := replay[m.ID]; ok {
				t.Errorf("seed %d: %v joined but its ID was in the list", seed, m)
			}
			replay[m.ID] = m
		}
		last = ev.Members
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for range 200 {
				var ms []membership.Member
				for i := range 6 {
					if rng.IntN(2) == 0 {
						ms = append(ms, worker(fmt.Sprintf("w%d", i), fmt.Sprintf("10.0.0.%d:%d", i, 8000+rng.IntN(2))))
					}
				}
				l.Update(ms)
			}
		}()
	}
	wg.Wait()
	final := l.Members()
	if events > 0 && !sameMembers(last, final) {
		t.Fatalf("seed %d: the last event's members %v, the final list %v", seed, last, final)
	}
	var replayed []membership.Member
	for _, m := range replay {
		replayed = append(replayed, m)
	}
	slices.SortFunc(replayed, func(a, b membership.Member) int { return cmp(a.ID, b.ID) })
	if !sameMembers(replayed, final) {
		t.Fatalf("seed %d: replaying the events gives %v, the list is %v", seed, replayed, final)
	}
}

// The interface the head depends on.
var _ membership.Source = (*membership.List)(nil)

func ids(ms []membership.Member) string {
	s := ""
	for _, m := range ms {
		s += m.ID
	}
	return s
}

func sameMembers(a, b []membership.Member) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func sameEvent(a, b membership.Event) bool {
	return sameMembers(a.Members, b.Members) && sameMembers(a.Joined, b.Joined) && sameMembers(a.Left, b.Left)
}

func cmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
