// Package records is swerl's trajectory record (DESIGN.md, "Trajectory record"): one
// flat Record per episode, with everything a trainer needs, saved as JSONL and as
// Parquet that Python trainers read directly:
//
//	import pandas as pd
//	df = pd.read_parquet("RUN/records/parquet")   # every part file, in order
//	df = pd.read_json("RUN/records/records.jsonl", lines=True)
//
// FromEpisode builds a Record from a messages.EpisodeRecord; Validate checks its token
// invariants. A Writer saves records as episodes finish (JSONL synced within moments,
// Parquet part files written whole); ReadJSONL and ReadParquet read them back,
// WriteJSONL and WriteParquet write a whole set at once (atomically).
//
// # Schema
//
// JSON keys and Parquet column names are the same. Integers are int64 in Parquet
// unless noted; lists use the Parquet LIST type.
//
//	| field            | type                  | meaning                                                                  |
//	|------------------|-----------------------|--------------------------------------------------------------------------|
//	| task_id          | string                | task (SWE-bench instance_id or SimSWE id)                                |
//	| issue            | string                | the task statement shown to the agent (issue text)                       |
//	| iteration        | int                   | iteration k that requested the episode                                   |
//	| policy_version   | int                   | policy version that sampled it (equal to k in training)                  |
//	| group            | int                   | group index within the iteration (one group = G samples of one task)     |
//	| sample           | int                   | sample index within the group                                            |
//	| status           | string                | "finished" (graded) or "abandoned" (infrastructure failure)              |
//	| stop_reason      | string                | submit, turn_cap, context_overflow, timeout, abandoned                   |
//	| failure_kind     | string                | why it was abandoned (sandbox_start, sandbox_died, generate, grade,      |
//	|                  |                       | crashed, cancelled, stale); "" when finished                             |
//	| failure_cause    | string                | the failure's message; "" when finished                                  |
//	| attempts         | int                   | sandbox attempts used (1 when nothing failed)                            |
//	| restarts         | int                   | supervisor restarts of the episode actor                                 |
//	| retries          | int                   | infrastructure failures that were retried                                |
//	| stale            | int                   | replies dropped as belonging to another attempt or version               |
//	| resolved         | bool                  | the task's tests pass (SWE-bench rule)                                   |
//	| reward           | double                | R: 1 if resolved else 0                                                  |
//	| turn_penalty     | double                | R_len, the turn-count penalty (<= 0)                                     |
//	| reward_final     | double                | R_final = R + R_len                                                      |
//	| advantage        | double, nullable      | group-normalised advantage; null when not known yet                      |
//	| num_turns        | int                   | number of turns (= len(turns))                                           |
//	| duration_s       | double                | wall-clock seconds of the episode                                        |
//	| patch            | string                | the agent's diff that was graded                                         |
//	| turns            | list<struct>          | the turns, in order (fields below)                                       |
//	| token_ids        | list<int32>           | the whole context the model saw: for each turn, its prompt tokens then   |
//	|                  |                       | its assistant tokens; empty for a text-only policy                       |
//	| loss_mask        | list<int8>            | same length: 1 exactly on assistant tokens, 0 on prompt tokens (system,  |
//	|                  |                       | issue, observations)                                                     |
//	| logprobs         | list<float32>         | same length: sampling log-prob (<= 0) on assistant tokens, 0 elsewhere   |
//
// Each element of turns:
//
//	| field            | type                  | meaning                                                                  |
//	|------------------|-----------------------|--------------------------------------------------------------------------|
//	| index            | int                   | turn number, from 0                                                      |
//	| policy_version   | int                   | policy version that generated the turn                                   |
//	| assistant        | string                | the assistant's reply text                                               |
//	| command          | string                | the command parsed from it; "" on a format error                         |
//	| format_error     | string                | why the reply held no single command block; "" if none                  |
//	| observation      | string                | what the sandbox answered (the error text on a format error)            |
//	| exit_code        | int                   | the command's exit status                                                |
//	| timed_out        | bool                  | the command ran past its deadline                                        |
//	| generate_s       | double                | seconds spent generating the reply                                       |
//	| exec_s           | double                | seconds spent running the command                                        |
//	| prompt_tokens    | int                   | context tokens before the turn's assistant tokens (system prompt and     |
//	|                  |                       | issue on turn 0, the previous observation after)                         |
//	| assistant_tokens | int                   | assistant tokens of the turn                                             |
//
// Turn i covers token_ids[s : s+prompt_tokens+assistant_tokens], where s is the sum of
// the earlier turns' counts; the observation of the last turn is not in token_ids
// (the model never saw it).
//
// # Files and crashes
//
// A Writer's directory holds records.jsonl, one record per line, appended and synced
// as records finish, and parquet/part-NNNNN.parquet. A crash loses no record that
// Flush acknowledged, and at most a torn last JSONL line that was being written:
// ReadJSONL returns the good lines with an error wrapping ErrTruncated, and a new
// Writer on the same directory cuts the torn line off before appending. Parquet parts
// are written to hidden temporary files and renamed, so a part is whole or absent; the
// records of the part that was being built are in the JSONL file.
package records
