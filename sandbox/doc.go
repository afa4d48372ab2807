// Package sandbox defines where an agent's commands run: the Sandbox and Factory
// contracts that every backend (local process group, Docker, the in-memory SimSWE
// world) implements. It never imports actors or Proto.Actor.
package sandbox
