// Package tiny is the embedded world's policy (DESIGN.md, "Embedded world"): a small
// token-level model written with gorgonia that runs on a CPU. It writes the same fenced
// command blocks as an LLM over a word-level vocabulary, can make real format errors,
// and returns the sampling log-probs of every token it writes, so its replies feed the
// same DAPO loss as an LLM's.
//
// The pieces:
//   - Tokenizer (vocab.go, render.go): the words of a given vocabulary (for SimSWE,
//     sim.Vocab()) after eight specials; an episode renders as
//     "<obs> statement { <cmd> reply <obs> observation }* <cmd>", a finished turn
//     with the very ids it sampled.
//   - Model (model.go, graph.go): predicts the next token from the previous Window
//     tokens (left-padded): token + position embeddings, one causal attention block
//     whose query is the last position (multi-head attention and a ReLU MLP, both with
//     residuals), logits and log-softmax. A forward pass takes B windows at once.
//   - Policy (policy.go): implements policy.Policy and policy.Loader. Concurrent
//     Generate calls are batched (continuous batching) by up to GOMAXPROCS batchers
//     at once; each request's randomness depends only on the seed and the request's
//     identity, and each row's math only on its own window, so a reply is the same
//     whoever served it and whatever shared its passes.
//   - Trainer (train.go): SFT (expert traces, RFT) and one DAPO epoch per TrainBatch
//     (implements policy.Trainer); AdamW with warmup + cosine, global grad-norm clip.
//     A step's micro-batches run on GOMAXPROCS graphs at once and their gradients are
//     added in the step's order: the update is the same to the bit whatever the cores.
//   - Checkpoints (checkpoint.go): atomic save, all-or-nothing load.
//
// Concurrency: a Model's parameters sit behind a RWMutex. A Policy read-locks them for
// each forward pass; a Trainer write-locks them for a whole update (the engine never
// generates while training, the lock only makes sure of it). Models, Policies and
// Trainers are safe for concurrent use; Trainer methods run one at a time.
//
// Two gorgonia (v0.9.18, tensor v0.9.24) pitfalls are worked around here: its
// LogSoftMax/SoftMax start each row's running maximum at the tensor's first element
// (ops.go has a row-wise replacement), and a machine recycles the memory of
// intermediate values, so every value a run reports is copied out by a Read node.
package tiny
