// Mnemo's viewer: a live feed over /v1/stream, infinite scroll over
// /v1/feed/{kind}, search over /v1/search, sessions, settings with a live
// context preview. Plain JS, no build step; every text is set with
// textContent, never parsed as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
const PAGE = 20;
const KINDS = ["observations", "prompts", "summaries"];

const state = {
  project: localStorage.getItem("mnemo.project") || "",
  cursors: {},   // kind -> next cursor ("" = none yet, null = end)
  seen: new Set(),
  loading: false,
  projects: [],
};

// el builds an element: el("div", {class: "x", onclick: f}, child, "text").
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, opts || {}));
  if (r.status === 401) { location.reload(); throw new Error("signed out"); }
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const msg = body && body.error ? body.error : r.status + " " + r.statusText;
    const err = new Error(msg);
    err.status = r.status; err.field = body && body.field;
    throw err;
  }
  return body;
}

function toast(msg) {
  const t = $("#toast");
  t.textContent = msg; t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleString();
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

// ---- cards ----

function sessionLink(sid) {
  return el("a", { href: "#/session/" + encodeURIComponent(sid), class: "session-link", text: "session " + sid.slice(0, 12) });
}

function list(title, items, code) {
  if (!items || !items.length) return null;
  return [el("h4", { text: title }), el("ul", {}, items.map((i) => el("li", {}, code ? el("code", { text: i }) : i)))];
}

function observationDetail(o) {
  return el("div", { class: "detail" },
    o.narrative ? [el("h4", { text: "Narrative" }), el("p", { class: "narrative", text: o.narrative })] : null,
    list("Facts", o.facts),
    list("Files read", o.files_read, true),
    list("Files modified", o.files_modified, true),
    list("Concepts", o.concepts),
  );
}

function observationCard(o, opts) {
  const card = el("article", { class: "card observation", "data-kind": "observation", "data-id": o.id, "data-t": Date.parse(o.accepted_at) });
  const detail = observationDetail(o);
  detail.hidden = !(opts && opts.open);
  const del = el("button", { type: "button", class: "delete", text: "Delete", onclick: () => deleteObservation(o, card) });
  card.append(...[ // DOM append would write a null as the text "null"
    el("header", {},
      el("span", { class: "badge " + o.type, text: o.type }),
      el("span", { class: "title", text: o.title || "(untitled)", onclick: () => { detail.hidden = !detail.hidden; } })),
    o.subtitle ? el("div", { class: "subtitle muted", text: o.subtitle }) : null,
    el("div", { class: "meta" },
      el("span", { text: "#" + o.id }), el("span", { class: "project-name", text: o.project }),
      el("time", { text: when(o.accepted_at) }), o.session_id ? sessionLink(o.session_id) : null),
    detail,
    el("div", { class: "actions" }, del),
  ].filter(Boolean));
  return card;
}

function promptCard(h) {
  const p = h.prompt || h;
  return el("article", { class: "card prompt", "data-kind": "prompt", "data-t": Date.parse(p.at) },
    el("header", {}, el("span", { class: "badge", text: "prompt " + p.number }),
      el("span", { class: "prompt-text", text: p.private ? "(private)" : p.text })),
    el("div", { class: "meta" }, el("span", { text: h.project || "" }), el("time", { text: when(p.at) }), sessionLink(p.session_id)));
}

function summaryCard(m) {
  const rows = [["Request", m.request], ["Investigated", m.investigated], ["Learned", m.learned],
    ["Completed", m.completed], ["Next steps", m.next_steps], ["Notes", m.notes]]
    .filter((r) => r[1]).map((r) => el("p", {}, el("strong", { text: r[0] + ": " }), r[1]));
  return el("article", { class: "card summary", "data-kind": "summary", "data-id": m.id, "data-t": Date.parse(m.accepted_at) },
    el("header", {}, el("span", { class: "badge", text: "summary" }), el("span", { class: "title", text: m.request || "(session summary)" })),
    el("div", { class: "detail" }, rows),
    el("div", { class: "meta" }, el("span", { text: m.project }), el("time", { text: when(m.accepted_at) }), sessionLink(m.session_id)));
}

// place inserts a card into a list newest first, keeping the order however
// pages and live events interleave.
function place(container, card, fresh) {
  if (!place.marked && card.dataset.kind === "observation") {
    place.marked = true;
    // The benchmark's figure: navigation to the first observation card.
    requestAnimationFrame(() => performance.mark("mnemo-first-card"));
  }
  const t = Number(card.dataset.t) || 0;
  for (const c of container.children) {
    if ((Number(c.dataset.t) || 0) < t) { container.insertBefore(card, c); if (fresh) card.classList.add("new"); return; }
  }
  container.append(card);
  if (fresh) card.classList.add("new");
}

function keyOf(kind, item) {
  if (kind === "observations") return "o:" + item.id;
  if (kind === "summaries") return "s:" + item.id;
  return "p:" + item.prompt.session_id + ":" + item.prompt.number;
}

function cardOf(kind, item) {
  if (kind === "observations") return observationCard(item);
  if (kind === "summaries") return summaryCard(item);
  return promptCard(item);
}

function itemsOf(kind, page) {
  return (page && page[kind]) || [];
}

// ---- feed ----

function resetFeed() {
  state.cursors = {}; state.seen = new Set();
  $("#feed").replaceChildren();
  for (const k of KINDS) state.cursors[k] = "";
  return loadMore();
}

async function loadMore() {
  if (state.loading) return;
  const kinds = KINDS.filter((k) => state.cursors[k] !== null);
  if (!kinds.length) { $("#feed-end").textContent = "That is all the memory there is."; return; }
  state.loading = true;
  $("#feed-end").textContent = "Loading…";
  try {
    const pages = await Promise.all(kinds.map((k) =>
      api("/v1/feed/" + k + qs({ project: state.project, limit: PAGE, before: state.cursors[k] })).then((p) => [k, p])));
    for (const [k, page] of pages) {
      for (const item of itemsOf(k, page)) {
        const key = keyOf(k, item);
        if (state.seen.has(key)) continue;
        state.seen.add(key);
        place($("#feed"), cardOf(k, item), false);
      }
      state.cursors[k] = page.next ? page.next : null;
    }
    const more = KINDS.some((k) => state.cursors[k] !== null);
    $("#feed-end").textContent = $("#feed").children.length === 0 ? "No memory yet: it appears here as your agents work." :
      (more ? "" : "That is all the memory there is.");
  } catch (e) {
    $("#feed-end").textContent = "Could not load: " + e.message;
  } finally {
    state.loading = false;
  }
  // Keep filling while the sentinel is still on screen.
  if (KINDS.some((k) => state.cursors[k] !== null) && nearBottom()) setTimeout(loadMore, 0);
}

function nearBottom() {
  const r = $("#feed-end").getBoundingClientRect();
  return !$("#view-feed").hidden && r.top < window.innerHeight + 400;
}

// refreshHead fetches the newest page of a kind and adds what is new: a
// live event says something changed, the feed endpoint says what.
async function refreshHead(kind) {
  try {
    const page = await api("/v1/feed/" + kind + qs({ project: state.project, limit: PAGE }));
    for (const item of itemsOf(kind, page)) {
      const key = keyOf(kind, item);
      if (state.seen.has(key)) continue;
      state.seen.add(key);
      place($("#feed"), cardOf(kind, item), true);
    }
    if ($("#feed").children.length) $("#feed-end").textContent = $("#feed-end").textContent.startsWith("No memory") ? "" : $("#feed-end").textContent;
  } catch (e) { /* the next event retries */ }
}

// ---- live stream and status ----

function connectStream() {
  const es = new EventSource("/v1/stream");
  const live = $("#live");
  es.onopen = () => { live.className = "live on"; live.textContent = "live"; };
  es.onerror = () => { live.className = "live off"; live.textContent = "reconnecting"; };
  const on = (name, kind) => es.addEventListener(name, () => { refreshHead(kind); refreshOpenSession(); pollStatus(); });
  on("observation", "observations");
  on("prompt", "prompts");
  on("summary", "summaries");
  es.addEventListener("recompressed", () => resetFeed());
  es.addEventListener("session", () => pollStatus());
}

async function pollStatus() {
  const now = Date.now();
  if (now - (pollStatus.last || 0) < 1000) return; // live events come in bursts
  pollStatus.last = now;
  try {
    const st = await api("/v1/stats");
    const s = $("#status");
    if (st.processing) {
      s.className = "status busy";
      s.textContent = "processing · " + st.queue_depth + " queued, " + st.in_flight + " in flight";
    } else {
      s.className = "status idle";
      s.textContent = "idle · " + st.observations + " observations";
    }
  } catch (e) { /* shown as stale */ }
}

// ---- projects ----

async function loadProjects() {
  try {
    const ans = await api("/v1/projects");
    state.projects = ans.projects || [];
    const sel = $("#project");
    const keep = state.project;
    sel.replaceChildren(el("option", { value: "", text: "all projects" }),
      ...state.projects.map((p) => el("option", { value: p.name, text: p.name + " (" + p.observations + ")" })));
    if (keep && !state.projects.some((p) => p.name === keep)) sel.append(el("option", { value: keep, text: keep }));
    sel.value = keep;
  } catch (e) { toast("projects: " + e.message); }
}

// ---- delete ----

function confirmDialog(text) {
  const d = $("#confirm");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "yes"), { once: true });
    d.showModal();
  });
}

async function deleteObservation(o, card) {
  if (!(await confirmDialog("Delete observation #" + o.id + " “" + (o.title || "") + "”? This cannot be undone."))) return;
  try {
    await api("/v1/observations/" + o.id, { method: "DELETE" });
    document.querySelectorAll('[data-kind="observation"][data-id="' + o.id + '"]').forEach((c) => c.remove());
    toast("Deleted observation #" + o.id);
  } catch (e) { toast("Delete failed: " + e.message); }
}

// ---- search ----

async function runSearch(ev) {
  if (ev) ev.preventDefault();
  const f = new FormData($("#search-form"));
  const params = { project: state.project, limit: 50 };
  for (const [k, v] of f.entries()) params[k] = v;
  if (params.type !== "observations") { delete params.obs_type; delete params.file; }
  const out = $("#results");
  out.replaceChildren();
  $("#results-end").textContent = "Searching…";
  try {
    const ans = await api("/v1/search" + qs(params));
    const ids = ans.results.filter((r) => r.kind === "observation" && r.id).map((r) => r.id);
    let full = {};
    if (ids.length) {
      const obs = await api("/v1/observations" + qs({ ids: ids.join(",") }));
      for (const o of obs.observations) full[o.id] = o;
    }
    for (const r of ans.results) {
      if (full[r.id] && r.kind === "observation") out.append(observationCard(full[r.id]));
      else out.append(el("article", { class: "card", "data-kind": r.kind },
        el("header", {}, el("span", { class: "badge", text: r.kind }), el("span", { class: "title", text: r.title })),
        el("div", { class: "meta" }, el("span", { text: r.project }), el("time", { text: when(r.accepted_at) }),
          r.session_id ? sessionLink(r.session_id) : null)));
    }
    $("#results-end").textContent = ans.count + " result" + (ans.count === 1 ? "" : "s");
  } catch (e) {
    $("#results-end").textContent = "Search failed: " + e.message;
  }
}

// ---- session ----

let openSession = "";

async function showSession(id) {
  openSession = id;
  const box = $("#session");
  box.replaceChildren(el("p", { class: "muted", text: "Loading session…" }));
  try {
    const d = await api("/v1/sessions/" + encodeURIComponent(id));
    const s = d.session;
    const items = [];
    for (const p of d.prompts) items.push([Date.parse(p.at), promptCard({ prompt: Object.assign({ session_id: s.id }, p), project: s.project })]);
    for (const o of d.observations) items.push([Date.parse(o.accepted_at), observationCard(o)]);
    for (const m of d.summaries) items.push([Date.parse(m.accepted_at), summaryCard(m)]);
    items.sort((a, b) => a[0] - b[0]); // a session reads in order, oldest first
    box.replaceChildren(
      el("div", { class: "session-head" },
        el("h2", { id: "session-title", text: "Session " + s.id }),
        el("div", { class: "meta muted" }, el("span", { text: s.project }), el("span", { text: s.agent }),
          el("span", { text: s.status }), el("span", { text: s.prompt_count + " prompts" }),
          el("time", { text: "started " + when(s.started_at) }))),
      el("div", { class: "cards", id: "session-items" }, items.map((i) => i[1])));
  } catch (e) {
    box.replaceChildren(el("p", { class: "err", text: "Could not load the session: " + e.message }));
  }
}

function refreshOpenSession() {
  if (!$("#view-session").hidden && openSession) showSession(openSession);
}

// ---- settings ----

let previewTimer = 0;

async function loadSettings() {
  try {
    const v = await api("/v1/settings");
    renderSettings(v);
    refreshPreview();
  } catch (e) { $("#settings-msg").textContent = "Could not load settings: " + e.message; }
}

function sourceText(s) {
  if (s.source === "env") return "from the variable " + s.key;
  if (s.source === "file") return "from the settings file";
  if (s.source === "flag") return "from a flag";
  return "default";
}

function settingInput(s) {
  const id = "set-" + s.key;
  let input;
  if (s.kind === "bool") {
    input = el("input", { type: "checkbox", id, name: s.key });
    input.checked = s.value === "true";
  } else if (s.kind === "enum") {
    input = el("select", { id, name: s.key }, (s.values || []).map((x) => el("option", { value: x, text: x })));
    input.value = s.value;
  } else {
    input = el("input", { id, name: s.key, type: s.kind === "int" ? "number" : "text", min: s.kind === "int" ? String(s.min) : null });
    input.value = s.value;
  }
  input.disabled = !s.editable;
  input.addEventListener("change", () => saveSetting(s, input));
  return el("div", { class: "setting" },
    el("label", { for: id, text: s.key }), input,
    el("span", { class: "help", text: s.help }),
    el("span", { class: "src src-" + s.source, id: "src-" + s.key, text: sourceText(s) + (s.editable ? "" : " · fixed by " + s.fixed_by) }));
}

function renderSettings(v) {
  $("#settings-file").textContent = v.file ? "Saved to " + v.file : "This server has no settings file: its settings come from its environment.";
  $("#compressor").textContent = v.compressor ? "Compressor: " + v.compressor.choice : "Compressor: not known to this server (it runs in the workers).";
  const form = $("#settings-form"), other = $("#settings-other");
  form.replaceChildren(...v.settings.filter((s) => s.context).map(settingInput));
  other.replaceChildren(...v.settings.filter((s) => !s.context).map(settingInput));
  if (v.file_error) $("#settings-msg").textContent = v.file_error;
}

async function saveSetting(s, input) {
  const value = input.type === "checkbox" ? String(input.checked) : input.value;
  const msg = $("#settings-msg");
  try {
    const v = await api("/v1/settings", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ [s.key]: value }) });
    renderSettings(v);
    msg.className = ""; msg.textContent = "Saved " + s.key + " = " + value + " (" + s.applies + ")";
    refreshPreview();
  } catch (e) {
    msg.className = "err"; msg.textContent = e.message;
  }
}

function previewProject() {
  if (state.project) return state.project;
  return state.projects.length ? state.projects[0].name : "";
}

function refreshPreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const p = previewProject();
    $("#preview-project").textContent = p ? "for " + p : "";
    if (!p) { $("#preview").textContent = "No project yet: the preview shows once memory exists."; return; }
    try {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      const c = await api("/v1/context" + qs({ project: p, tz }));
      $("#preview").textContent = c.context || "(this project is excluded: no context)";
      $("#preview").dataset.observations = c.observations;
    } catch (e) { $("#preview").textContent = "Preview failed: " + e.message; }
  }, 50);
}

// ---- routing and theme ----

function route() {
  const h = location.hash || "#/";
  let view = "feed";
  if (h.startsWith("#/search")) view = "search";
  else if (h.startsWith("#/session/")) view = "session";
  else if (h.startsWith("#/settings")) view = "settings";
  for (const v of ["feed", "search", "session", "settings"]) $("#view-" + v).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + view);
  if (view === "session") showSession(decodeURIComponent(h.slice("#/session/".length)));
  else openSession = "";
  if (view === "settings") loadSettings();
  if (view === "feed" && nearBottom()) loadMore();
}

function init() {
  $("#project").addEventListener("change", (e) => {
    state.project = e.target.value;
    localStorage.setItem("mnemo.project", state.project);
    resetFeed();
    if (!$("#view-settings").hidden) refreshPreview();
    if (!$("#view-search").hidden && $("#q").value) runSearch();
  });
  $("#search-form").addEventListener("submit", runSearch);
  window.addEventListener("hashchange", route);
  new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: "400px" }).observe($("#feed-end"));
  connectStream();
  // The first page first: projects and stats are slower queries and wait.
  resetFeed().then(() => { loadProjects(); pollStatus(); });
  setInterval(pollStatus, 3000);
  setInterval(loadProjects, 30000);
  route();
}

document.addEventListener("DOMContentLoaded", init);
