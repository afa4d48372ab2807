// Package policy defines the model side of swerl: the Policy that writes the agent's
// replies and the Trainer that updates it at the barrier. Implementations live in
// sub-packages (the tiny gorgonia model, the OpenAI-compatible client, scripted
// policies); policy/dapo and policy/rft hold the pure training maths.
package policy
