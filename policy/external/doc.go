// Package external is the handshake with a learner that runs outside swerl (a
// PyTorch or JAX trainer on GPUs, serving its weights through vLLM or SGLang). Its
// Trainer implements policy.Trainer: Train hands the batch sampled from policy k to
// the outside trainer and returns when the trainer reports policy k+1 served, so the
// synchronous barrier (DESIGN.md) is the same as with the in-process learner. The
// version advances only then; on any error it stays at k.
//
// # Directory protocol (NewDir)
//
// For the batch sampled from policy k, swerl writes into DIR/batch-00000k/ (six
// digits, named by policy version):
//
//	records.jsonl     the batch's trajectory records (package records), advantages set
//	records.parquet   the same records as Parquet
//	batch.json        {"iteration":k, "policy_version":k, "expect_version":k+1,
//	                   "records":N, "tokens":T, "assistant_tokens":A,
//	                   "files":["records.jsonl","records.parquet"]}
//
// each through a temporary file renamed into place, batch.json last: its presence
// means the batch is complete. The trainer trains, serves policy k+1, and writes,
// atomically as well (temporary file + rename),
//
//	served.json       {"version":k+1, "model":"optional served model name",
//	                   "stats":{"loss":..., "steps":..., "tokens":..., "grad_norm":...,
//	                            "entropy":..., "clip_frac_low":..., "clip_frac_high":...}}
//
// or failed.json {"error":"why"}. swerl polls every Options.Poll. A served.json with
// another version, a failed.json, or no answer within Options.Timeout is an error
// naming the directory and the file it expected. A batch may hold no record (every
// group was filtered out): the trainer serves the same weights as version k+1.
//
// Restarts: if served.json is already there, Train reads it without writing the batch
// again; if batch.json is there without an answer, the trainer is presumably training
// it and Train only waits; if failed.json is there, the batch is written again and
// failed.json removed (a retry).
//
// A minimal trainer loop in Python (README-ready):
//
//	import json, os, pathlib, time
//	import pandas as pd
//	import requests
//
//	ROOT = pathlib.Path("learner")             # swerl rollout --learner learner ...
//	VLLM = "http://localhost:8000"
//
//	def write_atomic(path, obj):
//	    tmp = path.with_name("." + path.name + ".tmp")
//	    with open(tmp, "w") as f:
//	        json.dump(obj, f)
//	        f.flush()
//	        os.fsync(f.fileno())
//	    os.replace(tmp, path)                  # readers see the whole file or none
//
//	version = 0                                # the policy version served now
//	while True:
//	    batch = ROOT / f"batch-{version:06d}"
//	    if (batch / "served.json").exists():   # answered before a restart
//	        version = json.loads((batch / "served.json").read_text())["version"]
//	        continue
//	    if not (batch / "batch.json").exists() or (batch / "failed.json").exists():
//	        time.sleep(2)                      # not there yet, or failed and not resent
//	        continue
//	    meta = json.loads((batch / "batch.json").read_text())
//	    nxt = meta["expect_version"]
//	    try:
//	        df = pd.read_parquet(batch / "records.parquet")
//	        # one row per trajectory: token_ids, loss_mask (1 on assistant tokens),
//	        # logprobs (sampling log-probs), advantage, ...
//	        stats = train(df)                  # your DAPO step; {} if df is empty
//	        path = save_weights(nxt)           # e.g. a LoRA adapter directory
//	        name = f"policy-{nxt}"
//	        requests.post(f"{VLLM}/v1/load_lora_adapter",   # VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
//	                      json={"lora_name": name, "lora_path": str(path)}).raise_for_status()
//	        write_atomic(batch / "served.json", {"version": nxt, "model": name, "stats": stats})
//	        version = nxt
//	    except Exception as e:
//	        write_atomic(batch / "failed.json", {"error": repr(e)})
//
// # HTTP protocol (NewHTTP)
//
// Train first asks GET {base}/batches/{k}: if the trainer already serves k+1 (a
// restart), nothing is sent; if it is training, Train only waits. Otherwise it sends
//
//	POST {base}/batches   {"iteration":k, "policy_version":k, "expect_version":k+1,
//	                       "records":[...records as in records.jsonl...]}
//
// answered 200, 201 or 202 (accepted) or 409 (already there: fine), then polls
//
//	GET {base}/batches/{k}  ->  {"status":"training"|"served"|"failed",
//	                             "version":k+1, "model":"...", "error":"...", "stats":{...}}
//
// until "served" (with version k+1; "model" and "stats" optional) or "failed" (with
// "error"). 404 while waiting means the trainer has not registered the batch yet and
// is polled again; connection errors, 5xx, 408 and 429 are retried until the timeout;
// any other 4xx, a body that is not JSON, or a served version other than k+1 is an
// error at once.
//
// # Served models
//
// Served(v) returns the "model" the trainer named for version v, so that an inference
// client can send requests for policy v to that name (vLLM serves each LoRA adapter
// under its own name). A trainer that reloads weights in place names none.
package external
