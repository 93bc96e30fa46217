// slmkit web page: chat and a story playground over the server's OpenAI-compatible API.
// Everything streams through Server-Sent Events exactly as OpenAI clients receive them
// ("data: {json}\n\n" ... "data: [DONE]\n\n"), so this page also works against any compatible server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { apiKey: localStorage.getItem("slm.apiKey") || "", chat: [], controller: null };

function setStatus(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.apiKey) h["Authorization"] = "Bearer " + state.apiKey;
  return h;
}

// Sampling options shared by both panels; empty fields are left to the server's defaults.
function samplingOptions() {
  const opts = {
    model: $("model").value || undefined,
    temperature: parseFloat($("temperature").value),
    top_p: parseFloat($("top-p").value),
    max_tokens: parseInt($("max-tokens").value, 10),
  };
  const seed = $("seed").value.trim();
  if (seed !== "") opts.seed = parseInt(seed, 10);
  const stop = $("stop").value;
  if (stop !== "") opts.stop = [stop];
  for (const k of Object.keys(opts)) if (opts[k] === undefined || Number.isNaN(opts[k])) delete opts[k];
  return opts;
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return `${resp.status}: ${body.error.message}`;
  } catch (_) { /* not JSON */ }
  return `${resp.status} ${resp.statusText}`;
}

// POST `body` with stream=true and call onChunk(parsedJson) for every SSE data event until [DONE].
async function streamCompletion(path, body, onChunk, signal) {
  const resp = await fetch(path, {
    method: "POST", headers: headers(), body: JSON.stringify({ ...body, stream: true }), signal,
  });
  if (!resp.ok) throw new Error(await errorMessage(resp));
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {  // one SSE event per blank-line-terminated block
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        const parsed = JSON.parse(data);
        if (parsed.error) throw new Error(parsed.error.message || "server error");
        onChunk(parsed);
      }
    }
  }
}

// Runs one streaming request with Stop wired to an AbortController and a tokens/s readout.
async function runStream(path, body, onText, buttons) {
  state.controller = new AbortController();
  buttons.start.disabled = true;
  buttons.stop.disabled = false;
  const started = performance.now();
  let chunks = 0;
  setStatus("Generating...");
  try {
    await streamCompletion(path, body, (chunk) => {
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) return;
      const text = choice.text !== undefined ? choice.text : (choice.delta && choice.delta.content) || "";
      if (text) { chunks += 1; onText(text); }
    }, state.controller.signal);
    const seconds = (performance.now() - started) / 1000;
    setStatus(`Done: ${chunks} chunks in ${seconds.toFixed(1)} s (${(chunks / Math.max(seconds, 1e-3)).toFixed(1)}/s).`);
  } catch (err) {
    if (err.name === "AbortError") setStatus("Stopped.");
    else { setStatus(err.message, true); throw err; }
  } finally {
    buttons.start.disabled = false;
    buttons.stop.disabled = true;
    state.controller = null;
  }
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("chat-log").appendChild(div);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
  return div;
}

async function sendChat(event) {
  event.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text || state.controller) return;
  $("chat-input").value = "";
  state.chat.push({ role: "user", content: text });
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  let reply = "";
  try {
    await runStream("/v1/chat/completions", { ...samplingOptions(), messages: state.chat }, (piece) => {
      reply += piece;
      bubble.textContent = reply;
      $("chat-log").scrollTop = $("chat-log").scrollHeight;
    }, { start: $("chat-send"), stop: $("chat-stop") });
  } catch (err) {
    bubble.classList.add("error");
    bubble.textContent = err.message;
  }
  if (reply) state.chat.push({ role: "assistant", content: reply });
}

async function writeStory() {
  if (state.controller) return;
  const prompt = $("story-prompt").value;
  const out = $("story-output");
  out.querySelector(".prompt").textContent = prompt;
  const generated = out.querySelector(".generated");
  generated.textContent = "";
  try {
    await runStream("/v1/completions", { ...samplingOptions(), prompt }, (piece) => {
      generated.textContent += piece;
    }, { start: $("story-generate"), stop: $("story-stop") });
  } catch (err) {
    generated.textContent = "";
  }
}

async function loadModels() {
  try {
    const resp = await fetch("/v1/models", { headers: headers() });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    const body = await resp.json();
    const select = $("model");
    select.innerHTML = "";
    for (const m of body.data) {
      const option = document.createElement("option");
      option.value = option.textContent = m.id;
      select.appendChild(option);
    }
    setStatus(`Ready: ${body.data.length} model(s).`);
  } catch (err) {
    setStatus("Could not list models: " + err.message + (state.apiKey ? "" : " (set an API key in Settings?)"), true);
  }
}

// ---- rating view: items from /v1/feedback/items, one at a time, ratings POSTed to /v1/feedback/ratings ----
const rating = { items: [], rated: {}, index: 0 };

function raterName() { return $("rater").value.trim() || "anonymous"; }

function checkedValue(name) {
  const el = document.querySelector(`input[name="${name}"]:checked`);
  return el ? el.value : null;
}

function showRatingItem() {
  const item = rating.items[rating.index];
  if (!item) return;
  const saved = rating.rated[item.id] || {};
  $("rate-prompt").textContent = item.prompt;
  $("rate-output-a").textContent = item.outputs[0];
  const pair = item.outputs.length > 1;
  $("rate-b-box").hidden = !pair;
  $("rate-preferred").hidden = !pair;
  $("rate-output-b").textContent = pair ? item.outputs[1] : "";
  for (const el of document.querySelectorAll('input[name="score"], input[name="preferred"]')) {
    el.checked = String(saved[el.name]) === el.value;
  }
  $("rate-correction").value = saved.correction || "";
  $("rate-item").classList.toggle("rated", item.id in rating.rated);
  const done = rating.items.filter((it) => it.id in rating.rated).length;
  $("rate-progress").textContent = `item ${rating.index + 1} of ${rating.items.length} · ${done} rated`;
}

async function loadRatingItems() {
  try {
    const resp = await fetch(`/v1/feedback/items?rater=${encodeURIComponent(raterName())}`, { headers: headers() });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    const body = await resp.json();
    rating.items = body.data;
    rating.rated = body.ratings || {};
    const firstOpen = rating.items.findIndex((it) => !(it.id in rating.rated));
    rating.index = firstOpen >= 0 ? firstOpen : 0;
    showRatingItem();
    setStatus(`${rating.items.length} item(s) to rate.`);
  } catch (err) {
    setStatus("Could not load items to rate: " + err.message, true);
  }
}

async function saveRating() {
  const item = rating.items[rating.index];
  if (!item) return;
  const body = {
    id: item.id, rater: raterName(), score: checkedValue("score"), preferred: checkedValue("preferred"),
    correction: $("rate-correction").value,
  };
  try {
    const resp = await fetch("/v1/feedback/ratings", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!resp.ok) throw new Error(await errorMessage(resp));
    rating.rated[item.id] = (await resp.json()).saved;
    const next = rating.items.findIndex((it) => !(it.id in rating.rated));
    if (next >= 0) rating.index = next;
    showRatingItem();
    setStatus(`Saved rating of item ${item.id}.`);
  } catch (err) {
    setStatus("Could not save: " + err.message, true);
  }
}

function stepRatingItem(delta) {
  if (!rating.items.length) return;
  rating.index = (rating.index + delta + rating.items.length) % rating.items.length;
  showRatingItem();
}

function showPanel(tab) {
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
  for (const p of document.querySelectorAll(".panel")) p.classList.toggle("active", p.id === tab.dataset.panel);
}

function init() {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPanel(tab));
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); }
  });
  $("chat-clear").addEventListener("click", () => { state.chat = []; $("chat-log").innerHTML = ""; });
  $("story-generate").addEventListener("click", writeStory);
  for (const id of ["chat-stop", "story-stop"]) {
    $(id).addEventListener("click", () => state.controller && state.controller.abort());
  }
  $("tab-rate").addEventListener("click", loadRatingItems);
  $("rater").value = localStorage.getItem("slm.rater") || "";
  $("rater").addEventListener("change", () => { localStorage.setItem("slm.rater", $("rater").value.trim()); loadRatingItems(); });
  $("rate-save").addEventListener("click", saveRating);
  $("rate-prev").addEventListener("click", () => stepRatingItem(-1));
  $("rate-next").addEventListener("click", () => stepRatingItem(1));
  $("api-key").value = state.apiKey;
  $("save-key").addEventListener("click", () => {
    state.apiKey = $("api-key").value.trim();
    localStorage.setItem("slm.apiKey", state.apiKey);
    loadModels();
  });
  loadModels();
}

init();
