// The ops page: polls GET /v1/ops every second and draws the cluster's
// figures, tables and charts (plain SVG; the history is query's bounded ring).
"use strict";

const $ = (s) => document.querySelector(s);
const POLL_MS = 1000;
// maxDepth is the highest queue depth this page has seen (data-max-depth).
let maxDepth = 0;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}

// ranges writes ascending partitions compactly: 0–31, 40, 42–43.
function ranges(ps) {
  const out = [];
  for (let i = 0; i < ps.length; i++) {
    let j = i;
    while (j + 1 < ps.length && ps[j + 1] === ps[j] + 1) j++;
    out.push(j > i ? ps[i] + "–" + ps[j] : String(ps[i]));
    i = j;
  }
  return out.join(", ");
}

const num = (n) => (n == null ? "–" : Number(n).toLocaleString("en"));

function age(s) {
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return (s / 3600).toFixed(1) + " h";
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, opts || {}));
  if (r.status === 401) { location.href = "/"; throw new Error("signed out"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// chart draws series (arrays of numbers or null) as polylines scaled to their
// joint maximum, and writes the maximum in the corner.
function chart(svg, maxLabel, series, classes) {
  const n = Math.max(1, ...series.map((s) => s.length));
  let top = 0;
  for (const s of series) for (const v of s) if (v != null && v > top) top = v;
  const scale = top > 0 ? top : 1;
  const lines = series.map((s, i) => {
    const pts = [];
    s.forEach((v, x) => {
      if (v == null) return;
      const px = n === 1 ? 300 : (x / (n - 1)) * 300;
      pts.push(px.toFixed(1) + "," + (88 - (v / scale) * 84).toFixed(1));
    });
    const pl = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    pl.setAttribute("points", pts.join(" "));
    pl.setAttribute("class", classes[i]);
    return pl;
  });
  svg.replaceChildren(...lines);
  svg.dataset.points = String(n);
  maxLabel.textContent = "max " + (top >= 10 ? Math.round(top) : top.toFixed(1));
}

function render(o) {
  const c = o.cluster;
  $("#active-sessions").textContent = num(c.active_sessions);
  $("#queue-depth").textContent = num(c.queue_depth);
  $("#queue-depth").dataset.value = String(c.queue_depth);
  maxDepth = Math.max(maxDepth, c.queue_depth);
  document.body.dataset.maxDepth = String(maxDepth);
  $("#active-work").textContent = num(c.active_work);
  $("#processing").textContent = c.processing ? "yes" : "no";
  $("#in-flight").textContent = num(c.in_flight);
  $("#dlq-size").textContent = num(c.dead_letters);
  $("#dlq-size").title = num(c.dead_letters) + " in the store (replayed ones included), " + num(c.dlq_size) + " in the MNEMO_DLQ stream";
  const p = o.earliest_pending;
  $("#earliest-pending").textContent = p ? age(p.age_seconds) : "none";
  $("#earliest-pending").title = p ? "partition " + p.partition + ", stream seq " + p.seq + ", accepted " + p.at : "nothing pending";

  for (const e of document.querySelectorAll(".source[data-source]")) e.textContent = o.sources[e.dataset.source] || "";

  const h = o.history || [];
  chart($("#chart-rate"), $("#chart-rate-max"), [h.map((s) => s.accepted_per_s), h.map((s) => s.applied_per_s)], ["line-accepted", "line-applied"]);
  chart($("#chart-depth"), $("#chart-depth-max"), [h.map((s) => s.queue_depth)], ["line-depth"]);
  chart($("#chart-llm"), $("#chart-llm-max"), [h.map((s) => s.llm_latency_ms)], ["line-llm"]);

  $("#worker-count").textContent = "(" + o.workers.length + " live)";
  fill($("#workers tbody"), o.workers.map((w) => el("tr", { "data-worker": w.worker },
    el("td", {}, w.worker), el("td", { class: "leased", title: (w.leased || []).length + " partitions" }, ranges(w.leased || []) || "none"),
    el("td", {}, num(w.active_sessions)), el("td", {}, num(w.queue_depth)), el("td", {}, num(w.in_flight)),
    el("td", {}, num(w.processed)), el("td", { title: "started " + w.started }, w.build))));

  fill($("#partitions tbody"), c.partitions.map((q) => el("tr", { "data-partition": String(q.partition) },
    el("td", {}, q.partition), el("td", {}, num(q.pending)), el("td", {}, num(q.ack_pending)),
    el("td", {}, num(q.redelivered)), el("td", { class: "holder" }, q.leased_by || "—"))));

  $("#reaper-leader").textContent = o.reaper_leader || "none";
  $("#reapers").textContent = o.reapers.length ? "(" + o.reapers.length + " running: " + o.reapers.map((r) => r.reaper).join(", ") + ")" : "(no reaper answers)";
  $("#ingest").textContent = o.ingest.length
    ? o.ingest.map((g) => g.instance + ": " + num(g.accepted) + " accepted, " + num(g.rejected) + " rejected").join(" · ")
    : "no ingest answers";

  const l = o.llm;
  $("#llm-calls").textContent = num(l.calls);
  $("#llm-latency").textContent = l.calls ? l.mean_ms.toFixed(1) + " ms" : "–";
  $("#llm-tokens").textContent = num(l.input_tokens_today) + " in, " + num(l.output_tokens_today) + " out";
  $("#llm-cost").textContent = "$" + l.cost_usd_today.toFixed(4);

  fill($("#dead-letters tbody"), o.dead_letters.map((d) => {
    let action;
    if (d.replayed_as) action = el("span", { class: "replayed muted", title: d.replayed_as }, "replayed");
    else if (o.can_replay) {
      action = el("button", { type: "button", class: "replay", "data-id": String(d.id) }, "Replay");
      action.addEventListener("click", () => replay(d.id, action));
    } else action = el("span", { class: "muted" }, "mnemo dlq replay " + d.id);
    return el("tr", { "data-id": String(d.id) }, el("td", {}, d.id), el("td", {}, new Date(d.at).toLocaleString()),
      el("td", {}, d.session_id), el("td", {}, num(d.deliveries)), el("td", { class: "reason" }, d.reason), el("td", {}, action));
  }));
  $("#dlq-empty").hidden = o.dead_letters.length > 0;

  const m = o.nats_monitor;
  $("#nats-monitor").hidden = !m;
  if (m) { $("#varz").href = m.varz; $("#jsz").href = m.jsz; }

  fill($("#errors"), (o.errors || []).map((e) => el("li", {}, e)));
  const u = $("#updated");
  u.textContent = "updated " + new Date(o.at).toLocaleTimeString();
  u.className = "live on";
}

async function replay(id, button) {
  button.disabled = true;
  button.textContent = "Replaying…";
  try {
    await api("/v1/dead-letters/" + id + "/replay", { method: "POST" });
    button.textContent = "Replayed";
    await poll();
  } catch (e) {
    button.disabled = false;
    button.textContent = "Replay";
    fill($("#errors"), [el("li", {}, "replay " + id + ": " + e.message)]);
  }
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    render(await api("/v1/ops"));
  } catch (e) {
    const u = $("#updated");
    u.textContent = "unreachable: " + e.message;
    u.className = "live off";
  } finally {
    polling = false;
  }
}

poll();
setInterval(poll, POLL_MS);
