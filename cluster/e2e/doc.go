// Package e2e holds the cluster's end-to-end tests: real `swerl` processes (one binary,
// built once without -race: Proto.Actor's cluster code has known data races) on
// 127.0.0.1 and in Docker containers, with workers killed, frozen, cut off and joining
// mid-run. It has no code of its own.
package e2e
