// cunet studio: upload a song, follow its job, then play, remix and download the stems.
// Plain JavaScript, no build step, nothing loaded from other sites. It uses the same HTTP API
// as scripts (docs/serve.md). The mixer is Web Audio: one AudioBufferSourceNode per stem, all
// started at the same instant, each through its own GainNode (volume, mute, solo) into a master.
import { drawSpectrogram } from "./spectrogram.js";
import { encodeWav, parseWav } from "./wav.js";

const $ = (id) => document.getElementById(id);
const COLORS = { vocals: "#ff6b9a", drums: "#ffb347", bass: "#5fb0ff", other: "#6fdc8c" };
const POLL_MS = 400;

const studio = {
  info: null, file: null, job: null, stems: [], context: null, master: null,
  playing: false, startedAt: 0, offset: 0, duration: 0, sources: [],
};
window.studio = studio; // for the browser test and the curious (studio.seek(seconds) too)

// ---------- API ----------

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function upload(form, onProgress) {
  // XMLHttpRequest rather than fetch: it reports upload progress
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/jobs");
    request.responseType = "json";
    request.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    request.onload = () => {
      const body = request.response || {};
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new Error(body.error || `upload failed (${request.status})`));
    };
    request.onerror = () => reject(new Error("the upload failed: is the server still running?"));
    request.send(form);
  });
}

// ---------- model info and the form ----------

async function loadInfo() {
  try {
    const info = await api("/api/info");
    studio.info = info;
    $("model-name").textContent = `${info.model} · ${info.runtime} · ${info.instruments.join(", ")}`;
    $("model-trained").textContent = `Trained on ${info.trained_on}`;
    $("model-trained").title = info.trained_on;
    $("drop-hint").textContent = `wav, flac, ogg, mp3, m4a… up to ${info.max_upload_mb} MB`;
    buildSliders(info.instruments);
    $("format").replaceChildren(...info.formats.map((f) => new Option(f, f)));
  } catch (error) {
    showError(`Cannot reach the server: ${error.message}`);
  }
}

function buildSliders(instruments) {
  const box = $("sliders");
  box.replaceChildren();
  for (const name of instruments) {
    const row = document.createElement("div");
    row.className = "slider";
    row.style.setProperty("--accent", colorOf(name));
    row.innerHTML = `<label for="w-${name}">${name}</label>
      <input type="range" id="w-${name}" data-instrument="${name}" min="0" max="1" step="0.05" value="${name === "vocals" ? 1 : 0}">
      <output for="w-${name}"></output>`;
    box.append(row);
  }
  box.addEventListener("input", updateSpec);
  updateSpec();
}

function customSpec() {
  // the CLI's syntax: vocals=1+drums=0.5 (instruments at 0 left out)
  const terms = [];
  for (const input of $("sliders").querySelectorAll("input")) {
    input.nextElementSibling.textContent = Number(input.value).toFixed(2);
    if (Number(input.value) > 0) terms.push(`${input.dataset.instrument}=${Number(input.value)}`);
  }
  return terms.join("+");
}

function updateSpec() {
  const custom = document.querySelector('input[name="mode"]:checked').value === "custom";
  const spec = customSpec();
  $("sliders").hidden = !custom;
  $("spec").hidden = !custom;
  $("spec-text").textContent = spec || "(set at least one instrument above 0)";
  $("separate").disabled = !studio.file || (custom && !spec);
}

function chooseFile(file) {
  if (!file) return;
  studio.file = file;
  $("drop-text").innerHTML = "";
  const strong = document.createElement("strong");
  strong.textContent = file.name;
  $("drop-text").append(strong, ` · ${(file.size / 1e6).toFixed(1)} MB · press to change`);
  $("drop").classList.add("chosen");
  hideError();
  updateSpec();
}

// ---------- a job: upload, follow, show ----------

async function separate() {
  const form = new FormData();
  form.append("file", studio.file, studio.file.name);
  if (document.querySelector('input[name="mode"]:checked').value === "custom") form.append("instruments", customSpec());
  form.append("wiener", $("wiener").checked ? "true" : "false");
  hideError();
  stopPlayback();
  $("separate").disabled = true;
  setStatus("Uploading…", 0);
  try {
    const { id } = await upload(form, (done) => setStatus("Uploading…", done));
    history.replaceState(null, "", `#job=${id}`);
    await follow(id);
  } catch (error) {
    $("status").hidden = true;
    showError(error.message);
  } finally {
    updateSpec();
  }
}

async function follow(id) {
  for (;;) {
    const job = await api(`/api/jobs/${id}`);
    if (job.status === "queued") {
      const ahead = job.queue_position || 0;
      setStatus(ahead ? `Queued: ${ahead} song${ahead > 1 ? "s" : ""} ahead` : "Queued: next up", 0);
    } else if (job.status === "running") {
      setStatus(`Separating ${job.name}…`, job.progress);
    } else if (job.status === "failed") {
      throw new Error(job.error);
    } else {
      setStatus("Loading the stems…", 1);
      await showJob(job);
      $("status").hidden = true;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function setStatus(text, fraction) {
  $("status").hidden = false;
  $("status-text").textContent = text;
  $("progress").value = fraction;
  $("status-pct").textContent = `${Math.round(fraction * 100)}%`;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

async function showJob(job) {
  studio.job = job;
  studio.context = studio.context || new AudioContext();
  if (!studio.master) {
    studio.master = studio.context.createGain();
    studio.master.connect(studio.context.destination);
  }
  const buffers = await Promise.all(job.stems.map(async (stem) => {
    const response = await fetch(stem.files.wav);
    if (!response.ok) throw new Error(`cannot load the stem ${stem.name} (${response.status})`);
    return parseWav(await response.arrayBuffer(), studio.context);
  }));
  for (const stem of studio.stems) stem.gain.disconnect();
  studio.stems = job.stems.map((stem, i) => makeStem(stem, buffers[i]));
  studio.duration = Math.max(...buffers.map((b) => b.duration));
  studio.offset = 0;
  $("song-name").textContent = job.name;
  $("zip").href = job.zip;
  renderMixer();
  updateDownloads();
  $("results").hidden = false;
  $("play").disabled = false;
  $("seek").disabled = false;
  $("seek").max = studio.duration;
  $("duration").textContent = clock(studio.duration);
  requestAnimationFrame(() => studio.stems.forEach(drawStem));
  studio.ready = true;
}

function makeStem(stem, buffer) {
  const gain = studio.context.createGain();
  gain.connect(studio.master);
  return { name: stem.name, files: stem.files, buffer, gain, volume: 1, muted: false, soloed: false };
}

function remix() {
  // the stems summed with the mixer's gains (master included), exactly as heard
  const first = studio.stems[0].buffer, master = Number($("master").value);
  const out = Array.from({ length: first.numberOfChannels }, () => new Float32Array(first.length));
  for (const stem of studio.stems) {
    const g = effectiveGain(stem) * master;
    if (!g) continue;
    for (let c = 0; c < out.length; c++) {
      const x = stem.buffer.getChannelData(Math.min(c, stem.buffer.numberOfChannels - 1)), y = out[c];
      for (let i = 0; i < y.length; i++) y[i] += g * x[i];
    }
  }
  return encodeWav(out, first.sampleRate);
}

function downloadRemix() {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(remix());
  link.download = `${studio.job.name.replace(/\.[^.]*$/, "")}-remix.wav`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ---------- mixer ----------

function colorOf(name) {
  const single = COLORS[name];
  return single || "#b08cff";
}

function effectiveGain(stem) {
  const anySolo = studio.stems.some((s) => s.soloed);
  return stem.muted || (anySolo && !stem.soloed) ? 0 : stem.volume;
}

function applyGains() {
  const now = studio.context.currentTime, running = studio.context.state === "running";
  for (const stem of studio.stems) {
    // a short glide while playing (no clicks); at once otherwise (a suspended context applies nothing)
    if (running) stem.gain.gain.setTargetAtTime(effectiveGain(stem), now, 0.01);
    else stem.gain.gain.value = effectiveGain(stem);
    stem.row.classList.toggle("silent", effectiveGain(stem) === 0);
    stem.row.querySelector(".mute").setAttribute("aria-pressed", stem.muted);
    stem.row.querySelector(".solo").setAttribute("aria-pressed", stem.soloed);
  }
}

function renderMixer() {
  const mixer = $("mixer");
  mixer.replaceChildren();
  for (const stem of studio.stems) {
    const row = document.createElement("div");
    row.className = "stem";
    row.setAttribute("role", "listitem");
    row.tabIndex = 0;
    row.style.setProperty("--accent", colorOf(stem.name));
    row.innerHTML = `
      <div class="stem-head">
        <span class="dot" aria-hidden="true"></span><span class="stem-name"></span>
        <div class="stem-controls">
          <button type="button" class="toggle mute" aria-pressed="false">M<span class="sr-only"> mute</span></button>
          <button type="button" class="toggle solo" aria-pressed="false">S<span class="sr-only"> solo</span></button>
          <input type="range" class="volume" min="0" max="1" step="0.01" value="1">
          <a class="button small download" download>Download</a>
        </div>
      </div>
      <div class="spectrogram"><canvas role="img"></canvas><span class="playhead" aria-hidden="true"></span></div>`;
    row.querySelector(".stem-name").textContent = stem.name;
    row.querySelector("canvas").setAttribute("aria-label", `Spectrogram of ${stem.name}`);
    const volume = row.querySelector(".volume");
    volume.setAttribute("aria-label", `${stem.name} volume`);
    row.querySelector(".mute").setAttribute("aria-label", `Mute ${stem.name}`);
    row.querySelector(".solo").setAttribute("aria-label", `Solo ${stem.name}`);
    volume.addEventListener("input", () => { stem.volume = Number(volume.value); applyGains(); });
    row.querySelector(".mute").addEventListener("click", () => { stem.muted = !stem.muted; applyGains(); });
    row.querySelector(".solo").addEventListener("click", () => { stem.soloed = !stem.soloed; applyGains(); });
    row.querySelector(".spectrogram").addEventListener("click", (e) => {
      const box = e.currentTarget.getBoundingClientRect();
      seek(((e.clientX - box.left) / box.width) * studio.duration);
    });
    row.addEventListener("keydown", (e) => {
      if (e.target !== row) return;
      if (e.key === "m" || e.key === "M") row.querySelector(".mute").click();
      if (e.key === "s" || e.key === "S") row.querySelector(".solo").click();
    });
    stem.row = row;
    mixer.append(row);
  }
  applyGains();
}

function updateDownloads() {
  const format = $("format").value || "wav";
  for (const stem of studio.stems) {
    const link = stem.row.querySelector(".download");
    link.href = stem.files[format];
    link.textContent = `↓ ${format.toUpperCase()}`;
    link.setAttribute("aria-label", `Download ${stem.name} as ${format}`);
  }
  if (studio.job) $("zip").href = `${studio.job.zip}?format=${format}`;
}

// ---------- transport ----------

function position() {
  return studio.playing ? Math.min(studio.duration, studio.context.currentTime - studio.startedAt) : studio.offset;
}

function play() {
  if (studio.context.state === "suspended") studio.context.resume();
  const at = studio.context.currentTime + 0.05;
  if (studio.offset >= studio.duration) studio.offset = 0;
  studio.sources = studio.stems.map((stem) => {
    const source = studio.context.createBufferSource();
    source.buffer = stem.buffer;
    source.connect(stem.gain);
    source.start(at, studio.offset);
    return source;
  });
  studio.startedAt = at - studio.offset;
  studio.playing = true;
  $("play").classList.add("playing");
  $("play").setAttribute("aria-label", "Pause");
  requestAnimationFrame(tick);
}

function stopPlayback() {
  if (!studio.playing) return;
  studio.offset = position();
  studio.sources.forEach((s) => s.stop());
  studio.sources = [];
  studio.playing = false;
  $("play").classList.remove("playing");
  $("play").setAttribute("aria-label", "Play");
}

function seek(seconds) {
  const resume = studio.playing;
  stopPlayback();
  studio.offset = Math.max(0, Math.min(studio.duration, seconds));
  if (resume) play();
  showPosition();
}

function showPosition() {
  const t = position();
  $("time").textContent = clock(t);
  if (document.activeElement !== $("seek")) $("seek").value = t;
  const fraction = studio.duration ? t / studio.duration : 0;
  for (const stem of studio.stems) stem.row.querySelector(".playhead").style.left = `${fraction * 100}%`;
}

function tick() {
  showPosition();
  if (!studio.playing) return;
  if (position() >= studio.duration) {
    stopPlayback();
    studio.offset = 0;
    showPosition();
    return;
  }
  requestAnimationFrame(tick);
}

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function drawStem(stem) {
  drawSpectrogram(stem.row.querySelector("canvas"), stem.buffer);
}

// ---------- wiring ----------

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", () => chooseFile($("file").files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); chooseFile(e.dataTransfer.files[0]); });
  document.querySelectorAll('input[name="mode"]').forEach((r) => r.addEventListener("change", updateSpec));
  $("separate").addEventListener("click", separate);
  $("play").addEventListener("click", () => (studio.playing ? stopPlayback() : play()));
  $("seek").addEventListener("input", () => seek(Number($("seek").value)));
  $("master").addEventListener("input", () => {
    if (studio.master) studio.master.gain.value = Number($("master").value);
  });
  $("format").addEventListener("change", updateDownloads);
  $("remix").addEventListener("click", downloadRemix);
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA", "BUTTON", "A"].includes(document.activeElement.tagName);
    if (e.code === "Space" && !typing && studio.stems.length) { e.preventDefault(); $("play").click(); }
  });
  window.addEventListener("resize", () => studio.stems.forEach(drawStem));
}

async function restore() {
  // a page reloaded on #job=ID shows that job again
  const match = location.hash.match(/^#job=([A-Za-z0-9_-]+)$/);
  if (!match) return;
  try {
    await follow(match[1]);
  } catch (error) {
    $("status").hidden = true;
    showError(error.message);
  }
}

studio.seek = seek;
wire();
loadInfo().then(restore);
