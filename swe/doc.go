// Package swe holds the software-engineering task domain that is independent of how
// episodes are scheduled: the scaffold's command-block parsing, the turn-count length
// penalty, and the Grader contract. It never imports actors, Proto.Actor or Docker.
package swe
