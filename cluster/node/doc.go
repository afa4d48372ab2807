// Package node runs swerl over several machines: a head (coordinator, learner, the
// in-process policy's inference) places episodes on workers (episodes, their
// sandboxes, grading) from the live member list, and survives their loss.
//
// Per episode the head runs a proxy, a child of the coordinator that keeps the
// episode's contract (exactly one record, then it waits to be stopped); the worker
// runs a shim, the parent of the ordinary episode actor, standing in for the
// coordinator and the inference actor. Proxy and shim talk in wire messages, fenced by
// (head epoch, placement attempt): when a worker is lost the proxy places the episode
// again as a new attempt, and whatever the old attempt still sends (a partitioned
// worker's late record, a doubled reply) is dropped and counted.
//
// The head renews a lease on every worker (wire.Lease, every LeaseTTL/5). A worker that
// has not heard from its head for LeaseTTL stops its episodes, which removes their
// sandboxes: a worker cut off from the head, or whose head died, cleans up by itself
// within LeaseTTL + CheckEvery + the sandboxes' removal time.
package node

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/cluster/wire"
)

// Names of the per-node actors.
const (
	HeadName  = "swerl-head"
	AgentName = "swerl-worker"
)

func wirePID(p *actor.PID) *wire.PID {
	if p == nil {
		return nil
	}
	return &wire.PID{Address: p.Address, Id: p.Id}
}

func actorPID(p *wire.PID) *actor.PID {
	if p == nil {
		return nil
	}
	return actor.NewPID(p.Address, p.Id)
}
