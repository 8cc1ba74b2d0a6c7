// The search page: a text or a dropped file to /v1/search, results with rank, score, kind and
// name; indexed recordings play in the page, symbolic files open as text. No external code.
"use strict";

const $ = (id) => document.getElementById(id);
const AUDIO = new Set(["wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac",
  "alac", "aif", "aiff", "aifc", "caf", "mka", "webm"]);
const VIEWABLE = new Set(["abc", "mtf", "mid", "midi", "xml", "musicxml", "mxl", "txt"]);
let apiKey = localStorage.getItem("clamp3-api-key") || "";
const blobUrls = [];

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (apiKey) h["Authorization"] = "Bearer " + apiKey;
  return h;
}

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

async function call(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) {
    $("key-box").hidden = false;
    throw new Error("this server needs an API key");
  }
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}

function extensionOf(name) {
  const i = name.lastIndexOf(".");
  return i < 0 ? "" : name.slice(i + 1).toLowerCase();
}

function baseName(path) {
  const parts = String(path).split(/[\\/]/);
  return parts[parts.length - 1] || String(path);
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

async function search(query) {
  const body = { query, top_k: Number($("top-k").value) };
  if ($("modality").value) body.modality = $("modality").value;
  setStatus("searching…");
  const started = performance.now();
  try {
    const answer = await (await call("POST", "/v1/search", body)).json();
    render(answer);
    const ms = Math.round(performance.now() - started);
    setStatus(answer.results.length + " result(s) in " + ms + " ms");
  } catch (e) {
    setStatus(e.message, true);
  }
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render(answer) {
  for (const u of blobUrls.splice(0)) URL.revokeObjectURL(u);
  $("query-label").textContent = answer.query;
  const body = $("results").tBodies[0];
  body.replaceChildren();
  for (const hit of answer.results) {
    const tr = document.createElement("tr");
    const meta = hit.metadata || {};
    const name = meta.name || baseName(hit.path);
    const ext = meta.extension || extensionOf(hit.path);
    tr.append(cell(hit.rank, "rank"), cell(hit.score.toFixed(4), "score"),
      cell(hit.modality, "modality"), cell(name, "name"));
    tr.lastChild.title = hit.path;
    const actions = document.createElement("td");
    actions.className = "actions";
    if (hit.modality === "audio" && AUDIO.has(ext)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "▶ play";
      b.className = "play";
      b.onclick = () => play(hit.path, actions, b);
      actions.append(b);
    } else if (VIEWABLE.has(ext)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "view";
      b.className = "view";
      b.onclick = () => view(hit.path, name);
      actions.append(b);
    }
    tr.append(actions);
    body.append(tr);
  }
  $("results-box").hidden = false;
}

async function play(id, where, button) {
  try {
    const r = await call("GET", "/v1/index/file?id=" + encodeURIComponent(id));
    const url = URL.createObjectURL(await r.blob());
    blobUrls.push(url);
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.src = url;
    button.replaceWith(audio);
    audio.play().catch(() => { /* autoplay may be refused; the controls remain */ });
  } catch (e) {
    setStatus(baseName(id) + ": " + e.message, true);
  }
}

async function view(id, name) {
  try {
    const text = await (await call("GET", "/v1/index/view?id=" + encodeURIComponent(id))).text();
    $("viewer-title").textContent = name;
    $("viewer-text").textContent = text;
    $("viewer").hidden = false;
  } catch (e) {
    setStatus(name + ": " + e.message, true);
  }
}

async function searchFile(file) {
  const format = extensionOf(file.name);
  if (!format) {
    setStatus(file.name + ": the file needs an extension (e.g. .mid, .abc, .wav)", true);
    return;
  }
  setStatus("reading " + file.name + "…");
  const data = toBase64(await file.arrayBuffer());
  await search({ format, data, name: file.name });
}

async function showInfo() {
  try {
    const info = await (await call("GET", "/info")).json();
    const items = info.index_items == null ? "no index" : info.index_items + " items indexed";
    $("server-info").textContent = info.model + " · " + info.modalities.join(", ") + " · " + items;
  } catch (e) {
    $("server-info").textContent = e.message;
  }
}

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (q) search(q);
});
$("file").addEventListener("change", () => {
  const f = $("file").files[0];
  if (f) searchFile(f);
});
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const f = ev.dataTransfer.files[0];
  if (f) searchFile(f);
});
$("save-key").addEventListener("click", () => {
  apiKey = $("api-key").value.trim();
  localStorage.setItem("clamp3-api-key", apiKey);
  $("key-box").hidden = true;
  showInfo();
});
$("viewer-close").addEventListener("click", () => { $("viewer").hidden = true; });
showInfo();
