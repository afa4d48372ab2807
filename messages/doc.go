// Package messages is the vocabulary of swerl: the immutable value types that the
// engine's actors pass to one another.
//
// Every type here is a plain value. Slices are copied in by the constructor that takes
// them and are only exposed through accessors that copy them out (or append them to a
// caller's buffer), so a message can be shared between goroutines without locks and a
// receiver can never change what the sender holds. There are no setters: a "With"
// method derives a new value.
//
// Every message that belongs to an episode carries its EpisodeRef, and with it the
// iteration and the policy version the episode samples from; iteration-level messages
// (TrainBatch, PolicyUpdated, LoadPolicy) carry both numbers directly. Receivers drop
// and count messages whose numbers do not match what they are waiting for.
//
// This package imports only the standard library (STYLE.md: leaf vocabulary first).
package messages
