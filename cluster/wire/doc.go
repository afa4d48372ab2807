// Package wire holds the protobuf messages that cross Proto.Actor remote between a
// head node and its worker nodes, and their conversion to and from the messages
// vocabulary.
//
// What crosses nodes: the head places an episode on a worker (StartEpisode,
// CancelEpisode), the worker's episode asks the head's policy for each reply
// (GenerateRequest, answered by GenerateReply or GenerateFailed) and reports its
// terminal record (EpisodeDone, acknowledged by RecordAck); the head keeps workers
// alive with a Lease and workers report their capacity with Announce. Every
// episode-bound message carries a Fence (the head run's epoch and the placement
// attempt), so a receiver can drop messages of an earlier head run or placement.
//
// The messages package stays swerl's vocabulary: actors on either side speak only
// messages values, and conversion happens here, at the edge, just before a message
// is sent to another node and just after one is received. Each conversion is exact:
// a value converted to its wire form and back (through proto.Marshal and
// proto.Unmarshal or not) equals the original, except that a time.Time loses its
// monotonic reading and location (instants cross machines as Unix nanoseconds).
// Empty and nil slices are the same on the wire. Every Msg method accepts a nil
// receiver and returns the zero value. Conversions copy slices, so neither side
// shares memory with the other; a wire message is a plain protobuf message and, like
// any, must not be changed while another goroutine reads it.
//
// This package imports only messages and protobuf (a deptest checks it): it knows
// nothing of actors, the engine or Proto.Actor. PID is a plain address/id pair that
// the caller maps to and from actor.PID.
//
// wire.pb.go is generated from wire.proto by gen.sh, with protoc-gen-go at the
// version of google.golang.org/protobuf in go.mod; a test regenerates it and fails
// when the committed file is out of date.
package wire

//go:generate bash gen.sh
