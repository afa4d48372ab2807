// Package membership is who is in a swerl cluster: the live member list and its
// changes, from Proto.Actor's cluster layer and one of its providers (static peers,
// etcd, Kubernetes). The head's placement reads it through Source, which tests fake.
//
// swerl uses the cluster layer for membership only. It never activates a virtual actor
// (a grain): on the pinned protoactor-go a membership change re-activates grains with
// fresh state and a request may be delivered twice after a timeout. Each node instead
// runs named actors at its own address, and messages go to them by PID.
package membership

import (
	"slices"
	"strings"
	"sync"
)

// Roles, as each node's cluster kind announces them.
const (
	RoleHead   = "swerl-head"
	RoleWorker = "swerl-worker"
)

// Member is one live node.
type Member struct {
	ID      string // the node's actor system id, new each time the process starts
	Address string // host:port of its Proto.Actor remote endpoint
	Role    string // RoleHead or RoleWorker ("" for a node of neither)
}

// Event is one change of the live member list.
type Event struct {
	Members      []Member // every live member, sorted by ID
	Joined, Left []Member
}

// Source is what placement needs of membership: the live list and its changes.
type Source interface {
	// Members returns the live members, sorted by ID.
	Members() []Member
	// Subscribe calls fn with every change, in order, from one goroutine at a time,
	// until the returned function is called.
	Subscribe(fn func(Event)) (unsubscribe func())
}

// List is a Source fed by Update: the Proto.Actor adapter feeds it topology events,
// tests feed it by hand.
type List struct {
	mu      sync.Mutex
	members map[string]Member
	subs    map[int]func(Event)
	next    int
	deliver sync.Mutex // one Update's callbacks at a time, in order
}

// NewList returns an empty list.
func NewList() *List { return &List{members: map[string]Member{}, subs: map[int]func(Event){}} }

// Members returns the live members, sorted by ID.
func (l *List) Members() []Member {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sortedLocked()
}

func (l *List) sortedLocked() []Member {
	out := make([]Member, 0, len(l.members))
	for _, m := range l.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Subscribe implements Source.
func (l *List) Subscribe(fn func(Event)) func() {
	l.mu.Lock()
	id := l.next
	l.next++
	l.subs[id] = fn
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.subs, id)
		l.mu.Unlock()
	}
}

// Update replaces the live list with members and tells the subscribers what changed
// (nothing when nothing did). A member whose address or role changed under the same
// ID counts as left and joined.
func (l *List) Update(members []Member) Event {
	l.deliver.Lock()
	defer l.deliver.Unlock()
	l.mu.Lock()
	next := make(map[string]Member, len(members))
	for _, m := range members {
		next[m.ID] = m
	}
	var ev Event
	for id, old := range l.members {
		if m, ok := next[id]; !ok || m != old {
			ev.Left = append(ev.Left, old)
		}
	}
	for id, m := range next {
		if old, ok := l.members[id]; !ok || m != old {
			ev.Joined = append(ev.Joined, m)
		}
	}
	l.members = next
	ev.Members = l.sortedLocked()
	sortByID(ev.Left)
	sortByID(ev.Joined)
	subs := make([]func(Event), 0, len(l.subs))
	keys := make([]int, 0, len(l.subs))
	for k := range l.subs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		subs = append(subs, l.subs[k])
	}
	l.mu.Unlock()
	if len(ev.Left) == 0 && len(ev.Joined) == 0 {
		return ev
	}
	for _, fn := range subs {
		fn(ev)
	}
	return ev
}

func sortByID(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
}
