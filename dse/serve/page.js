"use strict";
const token = new URLSearchParams(location.search).get("token");
let meta = null;  // /api/meta: the statuses and the report's sections (live: redrawn as the store changes; demand:
                 // computed when asked), from the server's registries
let version = null, sortKey = "id", sortDesc = false, modelRows = [], polls = 0;
function url(path, params) {
  const u = new URL(path, location.href);
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v != null) u.searchParams.set(k, v);
  if (token) u.searchParams.set("token", token);
  return u.toString();
}
async function get(path, params, kind) {
  const r = await fetch(url(path, params), {cache: "no-store"});
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error; } catch (e) {}
    const err = new Error(msg); err.status = r.status; throw err;
  }
  return kind === "text" ? r.text() : r.json();
}
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function fmt(v, d) { return v == null ? "" : (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(d == null ? 2 : d)) : String(v)); }
function table(node, cols, rows, onClick) {
  node.replaceChildren();
  const tr = el("tr");
  for (const c of cols) {
    const th = el("th", c.label || c);
    if (c.sort) th.addEventListener("click", () => c.sort(c.key));
    tr.appendChild(th);
  }
  node.appendChild(tr);
  for (const r of rows) {
    const row = el("tr");
    for (const c of cols) row.appendChild(el("td", c.get ? c.get(r) : r[c.key || c]));
    if (onClick) row.addEventListener("click", () => onClick(r));
    node.appendChild(row);
  }
}
function showError(msg) {
  const e = document.getElementById("err");
  e.textContent = msg ? "The store cannot be read now: " + msg + " (the page keeps trying)" : "";
  e.className = msg ? "on" : "";
}
async function refreshStatus() {
  const s = await get("/api/status");
  // a low-level sweep (SR, denoising) reports PSNR in dB: then each result carries its unit
  const low = s.sweeps.some(r => r.unit), res = v => r => fmt(r[v]) + (low && r[v] != null ? (r.unit ? " " + r.unit : "%") : "");
  table(document.getElementById("status"), ["sweep", "space", ...meta.statuses, "stale", {label: low ? "best" : "best err %", get: res("best_error")}, {label: low ? "median" : "median err %", get: res("median_error")},
    {label: "models/hour", get: r => fmt(r.models_per_hour, 1)}, {label: "hours left", get: r => fmt(r.hours_left, 2)}],
    s.sweeps);
  table(document.getElementById("running"), ["sweep", "id", "epoch", "worker", "device",
    {label: "img/s", get: r => fmt(r.images_per_s, 0)}], s.running);
  const sel = document.getElementById("fsweep"), have = new Set([...sel.options].map(o => o.value));
  for (const x of s.sweeps) if (!have.has(x.sweep)) sel.appendChild(el("option", x.sweep, {value: x.sweep}));
  return s;
}
async function refreshEdf() {
  let svgSize = 0;
  try {
    const e = await get("/api/edf");
    const img = document.getElementById("edfimg");
    const svg = await get("/api/edf.svg", {v: version}, "text");
    svgSize = svg.length;
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
    table(document.getElementById("ks"), ["a", "b", {label: "D", get: r => fmt(r.statistic, 3)},
      {label: "p", get: r => fmt(r.pvalue, 4)}], e.ks || []);
    const names = Object.keys(e.sweeps || {});
    const p = document.getElementById("power");
    if (names.length === 2) {
      try {
        const pw = await get("/api/power", {sweeps: names.join(",")});
        p.textContent = pw.n_needed ? ("n = " + pw.n_needed + " per space reaches power " + pw.target + ": " +
          (pw.more_models ? pw.more_models + " more model(s) per space" : "no more models needed")) :
          "no n up to " + pw.rows[pw.rows.length - 1].n + " reaches power " + pw.target;
      } catch (err) { p.textContent = err.message; }
    } else p.textContent = "two trained sweeps give the power of their comparison";
  } catch (err) {
    if (err.status === 503) throw err;
    document.getElementById("ks").replaceChildren(el("tr", err.message));
  }
  const u = await get("/api/undertraining");
  table(document.getElementById("under"), [{label: "sweep", get: r => r[0]},
    {label: "signals", get: r => (r[1].signals || []).map(x => x.message || x.signal || x).join("; ") || "none"}],
    Object.entries(u));
  return svgSize;
}
function sortBy(key) { if (sortKey === key) sortDesc = !sortDesc; else { sortKey = key; sortDesc = false; } drawModels(); }
function drawModels() {
  const rows = [...modelRows].sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    const c = (x == null) - (y == null) || (x < y ? -1 : x > y ? 1 : 0);
    return sortDesc ? -c : c;
  });
  const keys = ["sweep", "id", "status", "depth", "flops", "params", "acts", "error", "best_error", "epochs"];
  const low = rows.some(r => r.task && r.task !== "classify");  // an SR or denoising row: its result is a PSNR
  const name = k => !low ? k : k === "error" ? "result (error % / PSNR dB)" : k === "best_error" ? "best result" : k;
  table(document.getElementById("models"), keys.map(k => ({label: name(k), key: k, sort: sortBy,
    get: r => (typeof r[k] === "number" && !Number.isInteger(r[k])) ? fmt(r[k]) : fmt(r[k])})), rows, showModel);
}
async function refreshModels() {
  const m = await get("/api/models", {sweeps: document.getElementById("fsweep").value,
                                      status: document.getElementById("fstatus").value});
  modelRows = m.rows; drawModels();
}
async function showModel(r) {
  const d = document.getElementById("detail");
  try {
    const m = await get("/api/model", {sweeps: r.sweep, id: r.id});
    const word = m.measure === "error" ? "error" : m.measure.toUpperCase(), unit = m.unit === "%" ? "%" : " " + m.unit;
    d.replaceChildren(el("h3", m.sweep + " / model " + m.id + ": " + m.status + (m.error != null ? ", " + word + " " + fmt(m.error) + unit : "")));
    d.appendChild(el("p", "depths " + m.arch.depths + ", widths " + m.arch.widths + ", flops " + fmt(m.flops) +
      (m.settings ? ", settings " + JSON.stringify(m.settings) : "") + (m.reason ? ", " + m.reason : ""), {class: "muted"}));
    const pts = m.epochs.filter(e => e.test_error != null);
    if (pts.length) {
      const NS = "http://www.w3.org/2000/svg", W = 420, H = 160;
      const svg = document.createElementNS(NS, "svg");
      svg.setAttribute("width", W); svg.setAttribute("height", H);
      const ys = pts.flatMap(e => [e.test_error, e.train_error].filter(v => v != null));
      const lo = Math.min(...ys), hi = Math.max(...ys) || 1, n = Math.max(...pts.map(e => e.epoch));
      for (const [key, color] of [["test_error", "#1f77b4"], ["train_error", "#ff7f0e"]]) {
        const line = document.createElementNS(NS, "polyline");
        line.setAttribute("fill", "none"); line.setAttribute("stroke", color);
        line.setAttribute("points", pts.filter(e => e[key] != null).map(e =>
          (20 + (W - 30) * (n > 1 ? (e.epoch - 1) / (n - 1) : 0.5)) + "," + (10 + (H - 30) * (hi - e[key]) / ((hi - lo) || 1))).join(" "));
        svg.appendChild(line);
      }
      d.appendChild(svg);
      d.appendChild(el("p", "test " + word + " (blue) and train " + word + " (orange) per epoch, " + fmt(lo) + "..." + fmt(hi) + unit, {class: "muted"}));
    }
  } catch (err) { d.replaceChildren(el("p", err.message)); }
}
async function refreshSections() {
  const box = document.getElementById("sections");
  for (const {id} of meta.sections.filter(x => x.live === "live")) {
    let node = document.getElementById("sec-" + id);
    if (!node) { node = el("section", null, {id: "sec-" + id}); box.appendChild(node); }
    try { node.innerHTML = await get("/api/section/" + id, {}, "text"); }  // dse's report writer escaped it
    catch (err) { if (err.status === 503) throw err; node.replaceChildren(el("p", err.message)); }
  }
}
async function start() {
  meta = await get("/api/meta");
  const st = document.getElementById("fstatus");
  for (const x of meta.statuses) st.appendChild(el("option", x, {value: x}));
  for (const {id, title} of meta.sections.filter(x => x.live === "demand")) {
    const b = el("button", title);
    b.addEventListener("click", async () => {
      const box = document.getElementById("demanded");
      let node = document.getElementById("sec-" + id);
      if (!node) { node = el("section", null, {id: "sec-" + id}); box.appendChild(node); }
      node.replaceChildren(el("p", "computing...", {class: "muted"}));
      try { node.innerHTML = await get("/api/section/" + id, {}, "text"); }  // dse's report writer escaped it
      catch (err) { node.replaceChildren(el("p", err.message)); }
    });
    document.getElementById("buttons").appendChild(b);
  }
}
async function poll() {
  polls += 1;
  try {
    if (!meta) await start();
    const v = (await get("/api/version")).version;
    if (v !== version) {
      await get("/api/status");  // the store readable? (503 with its error otherwise)
      version = v;
      const s = await refreshStatus();
      const size = await refreshEdf();
      await refreshModels();
      await refreshSections();
      const done = s.sweeps.reduce((a, x) => a + x.done, 0);
      document.getElementById("history").textContent += "poll " + polls + " done " + done + " edf " + size + "\n";
      document.getElementById("sub").textContent = "updated " + new Date().toLocaleTimeString() + " - " +
        done + " model(s) done; refreshes by itself every 2 s while the store changes";
    }
    showError(null);
  } catch (err) { showError(err.message); version = null; }
  setTimeout(poll, 2000);
}
document.getElementById("fsweep").addEventListener("change", refreshModels);
document.getElementById("fstatus").addEventListener("change", refreshModels);
poll();
