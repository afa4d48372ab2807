// Package rft turns trajectory records into rejection fine-tuning data (PAPER.md,
// phase 1): only resolved trajectories are kept; the assistant turns that caused a
// format error stay in the context but are masked out of the loss; observation tokens
// (and the system prompt and the issue) are never trained on.
//
// Build produces, per kept record, one Example carrying the data in the two forms
// trainers read:
//   - chat messages (system, user = the issue, then assistant / user = observation per
//     turn), with "weight" 0 or 1 on every assistant message: the convention of
//     trl- and axolotl-style SFT trainers for per-message loss masking;
//   - input_ids and loss_mask, token for token, for trainers that take the exact
//     context the model sampled (the record's token_ids, with its loss_mask further
//     zeroed on format-error turns).
//
// WriteJSONL writes the examples one per line. The package is pure: it does no I/O
// except on the writer its caller hands it, keeps no state, and never modifies the
// records it is given (every slice it returns is newly allocated).
package rft
