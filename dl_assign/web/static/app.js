// The page: pick a file (or drop one), choose models/versions, POST /api/predict for each, plot the top-k.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { file: null, models: [] };

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
  return `${m.task} / ${m.model}  v${v.version}${v.version === m.latest ? " (latest)" : ""}  ·  ${acc}`;
}

async function loadModels() {
  const sel = $("models");
  try {
    const resp = await fetch("/api/models");
    if (!resp.ok) throw new Error(await apiError(resp));
    const body = await resp.json();
    state.models = body.models;
    state.hint = body.hint;
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
      opt.textContent = label(m, v);
      group.appendChild(opt);
    }
    sel.appendChild(group);
  }
  if (!state.models.length) showError(state.hint || "The model store is empty.");
  else sel.querySelector("option").selected = true;
  $("status").textContent = `${state.models.length} model(s), ${sel.options.length} version(s) in the store`;
  updateButton();
}

function updateButton() {
  $("predict").disabled = !(state.file && $("models").selectedOptions.length);
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

function barPlot(predictions) {
  // Vertical bars: height proportional to probability (0..1 maps to 0..plotH pixels).
  const n = predictions.length, barW = 38, gap = 14, left = 34, top = 16, plotH = 150, labelH = 78;
  const width = left + n * (barW + gap) + gap + 90, height = top + plotH + labelH;  // +90: room for the last slanted label
  let s = `<svg class="plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="top-${n} class probabilities">`;
  for (const t of [0, 0.5, 1]) {
    const y = top + plotH * (1 - t);
    s += `<line class="axis" x1="${left - 4}" x2="${width}" y1="${y}" y2="${y}" stroke-dasharray="${t ? "2,3" : ""}"/>`;
    s += `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${t}</text>`;
  }
  predictions.forEach((p, i) => {
    const h = plotH * p.probability, x = left + gap + i * (barW + gap), y = top + plotH - h;
    s += `<rect class="bar${i ? "" : " top"}" x="${x}" y="${y}" width="${barW}" height="${h}" data-class="${esc(p.class)}" data-probability="${p.probability}"><title>${esc(p.class)}: ${(100 * p.probability).toFixed(1)}%</title></rect>`;
    s += `<text x="${x + barW / 2}" y="${y - 3}" text-anchor="middle">${(100 * p.probability).toFixed(0)}%</text>`;
    s += `<text transform="translate(${x + barW / 2},${top + plotH + 10}) rotate(35)" text-anchor="start">${esc(p.class)}</text>`;
  });
  return s + "</svg>";
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
    el.querySelector(".chart").innerHTML = barPlot(out.predictions);
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
  const topK = Math.max(1, parseInt($("topk").value, 10) || 5);
  // a model with fewer classes than the top-k asked for (a 2-class gender model) shows all of its classes
  const nClasses = (name) => (state.models.find((m) => m.name === name) || { classes: [] }).classes.length || topK;
  await Promise.all(chosen.map((o) => predictOne(o.dataset.model, o.dataset.version,
                                                 Math.min(topK, nClasses(o.dataset.model)))));
  $("status").textContent = `predicted with ${chosen.length} model(s)`;
  updateButton();
}

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => setFile(e.target.files[0]));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]); });
  $("models").addEventListener("change", updateButton);
  $("predict").addEventListener("click", predictAll);
  loadModels();
}

document.addEventListener("DOMContentLoaded", wire);
