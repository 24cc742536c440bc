// The page: pick a file (or drop one), choose models/versions, POST /api/predict for each, plot the top-k.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { file: null, models: [], default: null, wantK: 5 };  // wantK: the top-k last asked for
const PLOT_H = 150;       // px of bar height for probability 1 (dl_assign.web.shots checks drawn heights against it)
const MAX_SHOWN = 20;     // the most bars the page draws: 20 fit a phone-wide card; the note beside top-k says so
const LABEL_MAX = 120;    // px of class name under a bar; longer names end in an ellipsis (full name on hover)
const FONT_PX = 11;       // the chart's font size (app.css: svg text)

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

async function apiError(resp) {
  // The API answers {"error": "...", "status": N}; anything else is reported as what it is.
  try {
    const body = await resp.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return `the server answered ${resp.status} ${resp.statusText}`;
}

function label(m, v) {
  const acc = v.budget === "pretrained" ? "ImageNet-pretrained by its authors, not evaluated here"
    : v.test_accuracy == null ? "test accuracy n/a" : `test accuracy ${v.test_accuracy.toFixed(3)}`;
  // a version whose weights hash equals an earlier one's (the store's duplicate_of) says so
  const dup = v.duplicate_of == null ? "" : `  ·  same weights as v${v.duplicate_of}`;
  return `${m.task} / ${m.model}  v${v.version}${v.version === m.latest ? " (latest)" : ""}  ·  ${acc}${dup}`;
}

async function loadModels() {
  const sel = $("models");
  try {
    const resp = await fetch("/api/models");
    if (!resp.ok) throw new Error(await apiError(resp));
    const body = await resp.json();
    state.models = body.models;
    state.hint = body.hint;
    state.default = body.default || null;  // "task/model@version": the best on validation, chosen by the API
  } catch (e) {
    showError(`Could not list the models: ${e.message}`);
    return;
  }
  sel.innerHTML = "";
  for (const m of state.models) {
    const group = document.createElement("optgroup");
    group.label = m.name;
    for (const v of [...m.versions].reverse()) {
      const opt = document.createElement("option");
      opt.value = `${m.name}@${v.version}`;
      opt.dataset.model = m.name;
      opt.dataset.version = String(v.version);
      // the API's default is the best validation metric; without one it is just the first model's latest
      const best = opt.value === state.default && v.validation
        ? `  ·  best ${v.validation.metric} ${Number(v.validation.value).toFixed(3)}` : "";
      opt.textContent = label(m, v) + best;
      group.appendChild(opt);
    }
    sel.appendChild(group);
  }
  if (!state.models.length) showError(state.hint || "The model store is empty.");
  else ([...sel.options].find((o) => o.value === state.default) || sel.options[0]).selected = true;
  $("status").textContent = `${state.models.length} model(s), ${sel.options.length} version(s) in the store`;
  updateTopK();
  updateButton();
}

function updateButton() {
  $("predict").disabled = !(state.file && $("models").selectedOptions.length);
}

function nClasses(name) {
  const m = state.models.find((x) => x.name === name);
  return m ? m.classes.length : 0;
}

function readTopK() {
  // what was typed, kept within 1..MAX_SHOWN (a bad entry keeps the last good one)
  const k = parseInt($("topk").value, 10);
  if (Number.isFinite(k)) state.wantK = Math.min(MAX_SHOWN, Math.max(1, k));
}

function updateTopK() {
  // top-k runs from 1 to the smallest class count among the chosen models, and at most MAX_SHOWN
  const names = new Set([...$("models").selectedOptions].map((o) => o.dataset.model));
  const counts = [...names].map(nClasses).filter((c) => c > 0);
  const fewest = counts.length ? Math.min(...counts) : MAX_SHOWN;
  const max = Math.min(MAX_SHOWN, fewest), input = $("topk");
  input.max = String(max);
  input.value = String(Math.min(max, state.wantK));  // choosing a 2-class model shows 2, choosing back shows 5 again
  const of = !counts.length ? "classes" : `of ${fewest} classes${counts.length > 1 ? " (the fewest among the chosen models)" : ""}`;
  $("topk-note").textContent = fewest > MAX_SHOWN ? `${of}, at most ${MAX_SHOWN} drawn` : of;
  return max;
}

function sizeText(bytes) {
  // bytes below 1 KiB, then KiB / MiB with one decimal: a 700-byte file is not "0 KB"
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function setFile(file) {
  if (!file) return;
  state.file = file;
  $("file-name").textContent = `${file.name} (${sizeText(file.size)})`;
  const img = $("preview");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  img.onerror = () => { img.hidden = true; };
  $("drop-hint").hidden = true;
  showError("");
  updateButton();
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

let measureCtx = null;
function textWidth(text) {
  // the chart's own font, measured on a canvas: labels are cut to fit before the SVG is built
  if (!measureCtx) {
    measureCtx = document.createElement("canvas").getContext("2d");
    measureCtx.font = `${FONT_PX}px ${getComputedStyle(document.body).fontFamily}`;
  }
  return measureCtx.measureText(text).width;
}

function fitText(text, maxPx) {
  // the longest prefix + "…" that fits maxPx (the whole text when it fits)
  if (textWidth(text) <= maxPx) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(text.slice(0, mid).trimEnd() + "…") <= maxPx) lo = mid; else hi = mid - 1;
  }
  return text.slice(0, lo).trimEnd() + "…";
}

function barPlot(predictions, width) {
  // Vertical bars, height = probability x PLOT_H px, in a chart exactly `width` px wide. The slot per bar
  // shrinks with k; the class names slant (45 degrees, steeper when slots get narrow so that neighbours
  // do not overlap) and are cut to LABEL_MAX px.
  const n = predictions.length, axisW = 28, right = 4, line = FONT_PX + 3;
  const names = predictions.map((p) => fitText(String(p.class), LABEL_MAX));
  const longest = Math.max(...names.map(textWidth));
  const fit = (left) => {  // the slot per bar and the label angle, given the room left of the first bar
    const slot = Math.min(56, (width - left - right) / n);
    const angle = Math.min(90, Math.max(45, (180 / Math.PI) * Math.asin(Math.min(1, line / slot))));
    const a = angle * Math.PI / 180, reach = textWidth(names[0]) * Math.cos(a) + FONT_PX * Math.sin(a) / 2;
    return { slot, angle, need: Math.max(axisW, Math.ceil(reach - slot / 2) + 2) };
  };
  let left = axisW;  // the first label's reach to the left depends on the slot, and the slot on the room
  for (let pass = 0; pass < 5 && fit(left).need > left; pass++) left = fit(left).need;
  const { slot, angle } = fit(left);
  const rad = angle * Math.PI / 180, barW = Math.max(2, Math.min(38, slot * 0.72));
  const upright = slot >= 30;  // room for "100%" above a bar; otherwise the percentages stand on end
  const top = upright ? 16 : 32, labelH = Math.ceil(longest * Math.sin(rad) + FONT_PX * Math.cos(rad)) + 12;
  const height = top + PLOT_H + labelH, x1 = left + n * slot;
  let s = `<svg class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="top-${n} class probabilities">`;
  for (const t of [0, 0.5, 1]) {
    const y = top + PLOT_H * (1 - t);
    s += `<line class="axis" x1="${left - 4}" x2="${x1}" y1="${y}" y2="${y}" stroke-dasharray="${t ? "2,3" : ""}"/>`;
    s += `<text class="tick" x="${left - 6}" y="${y + 4}" text-anchor="end">${t}</text>`;
  }
  predictions.forEach((p, i) => {
    const h = PLOT_H * p.probability, cx = left + (i + 0.5) * slot, x = cx - barW / 2, y = top + PLOT_H - h;
    const pct = `${(100 * p.probability).toFixed(0)}%`, full = `${esc(p.class)}: ${(100 * p.probability).toFixed(1)}%`;
    s += `<g><title>${full}</title>`;
    s += `<rect class="bar${i ? "" : " top"}" x="${x}" y="${y}" width="${barW}" height="${h}" data-class="${esc(p.class)}" data-probability="${p.probability}"></rect>`;
    s += upright ? `<text class="pct" x="${cx}" y="${y - 3}" text-anchor="middle">${pct}</text>`
      : `<text class="pct" transform="translate(${cx + FONT_PX / 2 - 1},${y - 3}) rotate(-90)" text-anchor="start">${pct}</text>`;
    s += `<text class="label" transform="translate(${cx + (FONT_PX / 2 - 1) * Math.sin(rad)},${top + PLOT_H + 8}) rotate(${-angle})" text-anchor="end">${esc(names[i])}</text></g>`;
  });
  return s + "</svg>";
}

function drawChart(el) {
  // the chart takes the width its card gives it: drawn again when the window is resized
  const chart = el.querySelector(".chart");
  if (el.predictions) chart.innerHTML = barPlot(el.predictions, Math.max(160, Math.floor(chart.clientWidth)));
}

function card(model, version) {
  const el = document.createElement("article");
  el.className = "card pending";
  el.dataset.model = model;
  el.dataset.version = version;
  el.innerHTML = `<h2>${esc(model)} v${esc(version)}</h2><p class="pred">…</p><p class="meta">predicting</p><div class="chart"></div>`;
  $("results").appendChild(el);
  return el;
}

// a faces.* model answered through the face front end: say which face it classified, and show it
function faceNote(el, face) {
  const p = document.createElement("p");
  p.className = "face";
  const [x0, y0, x1, y1] = face.box;
  const [w, h] = face.image_size;
  const img = $("preview");
  if (img.naturalWidth) {
    const c = document.createElement("canvas");
    c.width = 64;
    c.height = 64;
    c.className = "face-crop";
    const kx = img.naturalWidth / w, ky = img.naturalHeight / h;
    c.getContext("2d").drawImage(img, x0 * kx, y0 * ky, (x1 - x0) * kx, (y1 - y0) * ky, 0, 0, 64, 64);
    p.appendChild(c);
  }
  const t = document.createElement("span");
  t.textContent = `face found (${face.detector}): box ${x0},${y0} to ${x1},${y1} of the ${w} × ${h} px image`;
  p.appendChild(t);
  el.insertBefore(p, el.querySelector(".chart"));
}

async function predictOne(model, version, topK) {
  const el = card(model, version);
  const form = new FormData();
  form.append("file", state.file, state.file.name);
  form.append("model", model);
  form.append("version", version);
  form.append("top_k", String(topK));
  const t0 = performance.now();
  try {
    const resp = await fetch("/api/predict", { method: "POST", body: form });
    if (!resp.ok) throw new Error(await apiError(resp));
    const out = await resp.json();
    const top = out.predictions[0];
    el.querySelector(".pred").textContent = top.class;
    el.querySelector(".pred").dataset.class = top.class;
    el.querySelector(".meta").textContent =
      `${(100 * top.probability).toFixed(1)}% · server ${out.latency_ms.toFixed(1)} ms · round trip ${(performance.now() - t0).toFixed(0)} ms`;
    el.predictions = out.predictions;
    if (out.face) faceNote(el, out.face);
    drawChart(el);
    el.className = "card done";
  } catch (e) {
    el.className = "card failed";
    el.querySelector(".pred").textContent = `Error: ${e.message}`;
    el.querySelector(".meta").textContent = "";
    showError(e.message);
  }
}

async function predictAll() {
  const chosen = [...$("models").selectedOptions];
  if (!state.file || !chosen.length) return;
  showError("");
  $("results").innerHTML = "";
  $("predict").disabled = true;
  readTopK();
  updateTopK();  // 1..the fewest classes among the chosen models (and MAX_SHOWN)
  const topK = parseInt($("topk").value, 10);
  await Promise.all(chosen.map((o) => predictOne(o.dataset.model, o.dataset.version, topK)));
  $("status").textContent = `predicted with ${chosen.length} model(s)`;
  updateButton();
}

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => setFile(e.target.files[0]));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]); });
  $("models").addEventListener("change", () => { updateTopK(); updateButton(); });
  $("topk").addEventListener("change", () => { readTopK(); updateTopK(); });
  $("predict").addEventListener("click", predictAll);
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => document.querySelectorAll("#results .card.done").forEach(drawChart), 100);
  });
  loadModels();
}

document.addEventListener("DOMContentLoaded", wire);
