// swerl's live page: polls /api/state and redraws. Plain DOM, no dependencies.
"use strict";

const PHASES = ["pending", "starting", "generating", "executing", "diffing", "grading", "backoff", "done"];
const OUTCOMES = [["resolved", "resolved"], ["unresolved", "finished, unresolved"], ["abandoned", "abandoned"]];
const POLL_MS = 700;

let lastSeq = -1;
let evalCount = -1;
let openKey = "";

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
  }
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "–";
}

function seconds(s) {
  if (typeof s !== "number" || !isFinite(s)) return "–";
  if (s < 60) return s.toFixed(1) + " s";
  return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}

function legend() {
  const box = document.getElementById("legend");
  for (const p of PHASES) {
    const s = el("span");
    s.appendChild(el("i", { class: "p-" + p }));
    s.appendChild(document.createTextNode(p));
    box.appendChild(s);
  }
  for (const [cls, name] of OUTCOMES) {
    const s = el("span");
    s.appendChild(el("i", { class: "o-" + cls }));
    s.appendChild(document.createTextNode(name));
    box.appendChild(s);
  }
}

function outcome(e) {
  if (e.status === "abandoned") return "abandoned";
  return e.resolved ? "resolved" : "unresolved";
}

function drawRun(st) {
  const run = st.run;
  const box = document.getElementById("run");
  if (!run) {
    box.textContent = "waiting for the first run…";
    return;
  }
  let text = "run " + run.number + " · " + run.stage + " · " + (run.iterations || 0) + " iteration(s) of " +
    (run.episodes_per_iteration || 0) + " episodes";
  if (run.ended) text += run.error ? " · failed: " + run.error : " · ended";
  box.textContent = text;
  document.getElementById("iter").textContent = "(iteration " + st.iteration + ")";
}

function drawGrid(st) {
  const grid = document.getElementById("grid");
  const eps = Array.isArray(st.episodes) ? st.episodes : [];
  grid.replaceChildren();
  for (const e of eps) {
    const cls = e.finished ? "cell finished o-" + outcome(e) : "cell p-" + e.phase;
    const title = e.key + " " + (e.task || "") + ": " + (e.finished ? outcome(e) + " (" + (e.stop || "") + ")" : e.phase) +
      ", " + e.turns + " turn(s)";
    const c = el("div", { class: cls + (e.key === openKey ? " open" : ""), title: title, "data-key": e.key,
      "data-phase": e.phase, "data-finished": e.finished ? "true" : "false", "data-turns": String(e.turns) });
    grid.appendChild(c);
  }
  const pending = Math.max(0, (st.expected || 0) - eps.length);
  for (let i = 0; i < pending; i++) {
    grid.appendChild(el("div", { class: "cell p-pending", title: "not started", "data-phase": "pending", "data-finished": "false" }));
  }
  const phases = st.phases || {};
  const parts = ["run=" + (st.run ? st.run.number : 0), "iteration=" + st.iteration, "pending=" + pending];
  for (const p of Object.keys(phases).sort()) parts.push(p + "=" + phases[p]);
  grid.setAttribute("data-state", parts.join(" "));
  grid.setAttribute("data-finished", String(eps.filter((e) => e.finished).length));
}

function drawStops(st) {
  const body = document.querySelector("#stops tbody");
  body.replaceChildren();
  const stops = st.stops || {};
  const keys = Object.keys(stops).sort();
  if (keys.length === 0) {
    const tr = el("tr");
    tr.appendChild(el("td", { class: "empty" }, "no finished episode yet"));
    body.appendChild(tr);
    return;
  }
  for (const k of keys) {
    const tr = el("tr");
    tr.appendChild(el("td", null, k || "(none)"));
    tr.appendChild(el("td", { class: "num" }, stops[k]));
    body.appendChild(tr);
  }
}

function drawStragglers(st) {
  const body = document.querySelector("#stragglers tbody");
  body.replaceChildren();
  const rows = Array.isArray(st.stragglers) ? st.stragglers : [];
  if (rows.length === 0) {
    const tr = el("tr");
    tr.appendChild(el("td", { class: "empty", colspan: "6" }, "none running"));
    body.appendChild(tr);
    return;
  }
  for (const e of rows) {
    const tr = el("tr");
    tr.appendChild(el("td", null, e.key));
    tr.appendChild(el("td", null, e.task));
    tr.appendChild(el("td", null, e.phase));
    tr.appendChild(el("td", { class: "num" }, e.turns));
    tr.appendChild(el("td", { class: "num" }, e.attempt));
    tr.appendChild(el("td", { class: "num" }, seconds(e.elapsed_s)));
    body.appendChild(tr);
  }
}

function drawCurve(st) {
  const n = Array.isArray(st.evals) ? st.evals.length : 0;
  if (n !== evalCount) {
    evalCount = n;
    const img = document.getElementById("curve");
    img.setAttribute("src", "curve.svg?n=" + n);
    img.setAttribute("data-evals", String(n));
  }
}

const SVGNS = "http://www.w3.org/2000/svg";

function sparkline(values, colour, label) {
  const w = 160, h = 30;
  const svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("width", String(w + 110));
  svg.setAttribute("height", String(h));
  const nums = values.filter((v) => typeof v === "number" && isFinite(v));
  const text = document.createElementNS(SVGNS, "text");
  text.setAttribute("x", String(w + 8));
  text.setAttribute("y", String(h / 2 + 4));
  text.setAttribute("font-size", "12");
  text.textContent = label + " " + (nums.length ? nums[nums.length - 1].toFixed(4) : "–");
  svg.appendChild(text);
  if (nums.length === 0) return svg;
  const lo = Math.min(...nums), hi = Math.max(...nums);
  const span = hi - lo || 1;
  const pts = nums.map((v, i) => {
    const x = nums.length === 1 ? w / 2 : (i * (w - 4)) / (nums.length - 1) + 2;
    const y = h - 4 - ((v - lo) / span) * (h - 8);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const line = document.createElementNS(SVGNS, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", colour);
  line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  return svg;
}

function drawIterations(st) {
  const its = Array.isArray(st.iterations) ? st.iterations : [];
  // The sparklines follow the learner's steps only: evaluation and data-collection
  // runs pass a barrier too, with no loss of their own.
  const learned = its.filter((r) => r.learned);
  const spark = document.getElementById("spark");
  spark.replaceChildren(
    sparkline(learned.map((r) => r.loss), "#1f77b4", "loss"),
    sparkline(learned.map((r) => r.clip_frac_low), "#2ca02c", "clip low"),
    sparkline(learned.map((r) => r.clip_frac_high), "#d62728", "clip high"),
    sparkline(learned.map((r) => r.entropy), "#9467bd", "entropy"),
  );
  const table = document.getElementById("iters");
  table.setAttribute("data-stages", Array.from(new Set(its.map((r) => r.stage))).join(" "));
  const body = table.querySelector("tbody");
  body.replaceChildren();
  if (its.length === 0) {
    const tr = el("tr");
    tr.appendChild(el("td", { class: "empty", colspan: "7" }, "no iteration trained yet"));
    body.appendChild(tr);
    return;
  }
  for (const r of its.slice(-10).reverse()) {
    const tr = el("tr");
    tr.appendChild(el("td", null, r.stage));
    tr.appendChild(el("td", { class: "num" }, "v" + r.version));
    tr.appendChild(el("td", { class: "num" }, r.resolved + "/" + (r.finished + r.abandoned)));
    if (!r.learned) {
      // A frozen policy (evaluation, data collection) or an empty batch: no step.
      tr.appendChild(el("td", { class: "num", colspan: "4", title: "no learner step at this barrier" },
        r.skipped ? "empty batch: no step" : "no learner step"));
      body.appendChild(tr);
      continue;
    }
    tr.appendChild(el("td", { class: "num" }, fmt(r.loss, 4)));
    tr.appendChild(el("td", { class: "num" }, fmt(r.clip_frac_low, 3)));
    tr.appendChild(el("td", { class: "num" }, fmt(r.clip_frac_high, 3)));
    tr.appendChild(el("td", { class: "num" }, fmt(r.entropy, 3)));
    body.appendChild(tr);
  }
}

function showTrajectory(t) {
  const box = document.getElementById("trajectory");
  box.replaceChildren();
  box.setAttribute("data-key", t.key || "");
  document.getElementById("traj-title").textContent = (t.ref || t.key || "") + " · " + (t.stage || "");
  box.appendChild(el("div", { class: "summary" },
    "task " + t.task + " · " + t.status + " (" + t.stop + ")" + (t.resolved ? " · resolved" : "") +
    " · reward " + fmt(t.final, 3) + " · advantage " + fmt(t.advantage, 3) + " · " + seconds(t.duration_s) +
    (t.failure ? " · failure: " + t.failure : "")));
  if (t.statement) {
    box.appendChild(el("div", { class: "label" }, "statement"));
    box.appendChild(el("pre", null, t.statement));
  }
  const turns = Array.isArray(t.turns) ? t.turns : [];
  if (turns.length === 0) box.appendChild(el("p", { class: "empty" }, "no turns"));
  for (const u of turns) {
    const d = el("div", { class: "turn", "data-index": String(u.index) });
    d.appendChild(el("div", { class: "meta" },
      "turn " + u.index + " · policy v" + u.version + " · " + u.tokens + " tokens · generate " + seconds(u.generate_s) +
      " · exec " + seconds(u.exec_s) + " · exit " + u.exit_code + (u.timed_out ? " (timed out)" : "")));
    d.appendChild(el("div", { class: "label" }, "assistant"));
    d.appendChild(el("pre", null, u.assistant));
    if (u.format_error) {
      d.appendChild(el("div", { class: "label" }, "format error"));
      d.appendChild(el("pre", null, u.format_error));
    }
    d.appendChild(el("div", { class: "label" }, "command"));
    d.appendChild(el("pre", null, u.command || "(none)"));
    d.appendChild(el("div", { class: "label" }, "observation"));
    d.appendChild(el("pre", null, u.observation || "(none)"));
    box.appendChild(d);
  }
  if (t.patch) {
    box.appendChild(el("div", { class: "label" }, "patch"));
    box.appendChild(el("pre", null, t.patch));
  }
}

async function openEpisode(key) {
  openKey = key;
  const box = document.getElementById("trajectory");
  try {
    const resp = await fetch("api/episode?key=" + encodeURIComponent(key), { cache: "no-store" });
    const body = await resp.json();
    if (!resp.ok) {
      box.replaceChildren(el("p", { class: "empty" }, body && body.error ? body.error : "episode " + key + ": " + resp.status));
      box.setAttribute("data-key", "");
      return;
    }
    showTrajectory(body);
  } catch (err) {
    box.replaceChildren(el("p", { class: "empty" }, "could not load " + key + ": " + err));
  }
}

async function poll() {
  const conn = document.getElementById("conn");
  try {
    const resp = await fetch("api/state", { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const st = await resp.json();
    conn.textContent = "";
    if (st && st.seq !== lastSeq) {
      lastSeq = st.seq;
      drawRun(st);
      drawGrid(st);
      drawStops(st);
      drawStragglers(st);
      drawCurve(st);
      drawIterations(st);
    }
  } catch (err) {
    conn.textContent = "disconnected (" + (err && err.message ? err.message : err) + "); retrying";
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("grid").addEventListener("click", (ev) => {
  const cell = ev.target.closest(".cell.finished");
  if (cell && cell.dataset.key) openEpisode(cell.dataset.key);
});

legend();
poll();
