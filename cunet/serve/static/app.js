// cunet studio: upload a song, follow its job, then play, remix and download the stems.
// Plain JavaScript, no build step, nothing loaded from other sites. It uses the same HTTP API
// as scripts (docs/serve.md). The mixer is Web Audio: one AudioBufferSourceNode per stem, all
// started at the same instant, each through its own GainNode (volume, mute, solo) into a master.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = { vocals: "#ff6b9a", drums: "#ffb347", bass: "#5fb0ff", other: "#6fdc8c" };
const POLL_MS = 400;

const studio = {
  info: null, file: null, job: null, stems: [], context: null, master: null,
  playing: false, startedAt: 0, offset: 0, duration: 0, sources: [],
};
window.studio = studio; // for the browser test and the curious

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
  requestAnimationFrame(() => studio.stems.forEach(drawSpectrogram));
  studio.ready = true;
}

function makeStem(stem, buffer) {
  const gain = studio.context.createGain();
  gain.connect(studio.master);
  return { name: stem.name, files: stem.files, buffer, gain, volume: 1, muted: false, soloed: false };
}

// ---------- WAV in and out (exact samples, at the stem's own rate) ----------

function parseWav(data, context) {
  const view = new DataView(data);
  const tag = (at) => String.fromCharCode(...new Uint8Array(data, at, 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a wav file");
  let format = null;
  for (let at = 12; at + 8 <= data.byteLength;) {
    const id = tag(at), size = view.getUint32(at + 4, true), body = at + 8;
    if (id === "fmt ") {
      let code = view.getUint16(body, true);
      if (code === 0xfffe) code = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      format = { code, channels: view.getUint16(body + 2, true), rate: view.getUint32(body + 4, true),
                 bits: view.getUint16(body + 14, true) };
    } else if (id === "data" && format) {
      return wavBuffer(view, body, Math.min(size, data.byteLength - body), format, context);
    }
    at = body + size + (size & 1);
  }
  throw new Error("wav file without audio data");
}

function wavBuffer(view, start, size, { code, channels, rate, bits }, context) {
  const bytes = bits / 8, frames = Math.floor(size / (bytes * channels));
  const buffer = context.createBuffer(channels, Math.max(frames, 1), rate);
  const read = code === 3 && bits === 32 ? (at) => view.getFloat32(at, true)
    : code === 1 && bits === 16 ? (at) => view.getInt16(at, true) / 32768
    : code === 1 && bits === 24 ? (at) => ((view.getUint8(at + 2) << 24 | view.getUint16(at, true) << 8) >> 8) / 8388608
    : null;
  if (!read) throw new Error(`unsupported wav encoding (format ${code}, ${bits} bits)`);
  for (let c = 0; c < channels; c++) {
    const out = buffer.getChannelData(c);
    for (let i = 0, at = start + c * bytes; i < frames; i++, at += bytes * channels) out[i] = read(at);
  }
  return buffer;
}

function encodeWav(channels, rate) {
  // 32-bit float wav (WAVE_FORMAT_IEEE_FLOAT), interleaved
  const frames = channels[0].length, count = channels.length, size = frames * count * 4;
  const view = new DataView(new ArrayBuffer(44 + size));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + size, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 3, true); view.setUint16(22, count, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * count * 4, true); view.setUint16(32, count * 4, true);
  view.setUint16(34, 32, true); text(36, "data"); view.setUint32(40, size, true);
  for (let i = 0, at = 44; i < frames; i++) for (let c = 0; c < count; c++, at += 4) view.setFloat32(at, channels[c][i], true);
  return new Blob([view], { type: "audio/wav" });
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
      <div class="spectrogram"><canvas></canvas><span class="playhead" aria-hidden="true"></span></div>`;
    row.querySelector(".stem-name").textContent = stem.name;
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

// ---------- spectrograms (drawn from the decoded samples) ----------

function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len, wr = Math.cos(angle), wi = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
        [cr, ci] = [cr * wr - ci * wi, cr * wi + ci * wr];
      }
    }
  }
}

function colormap(v) {
  // dark blue-violet -> magenta -> orange -> pale yellow (v in 0..1)
  const stops = [[12, 10, 28], [60, 20, 110], [170, 40, 130], [240, 110, 60], [255, 225, 140]];
  const x = Math.max(0, Math.min(0.9999, v)) * (stops.length - 1), i = Math.floor(x), f = x - i;
  return stops[i].map((c, k) => c + f * (stops[i + 1][k] - c));
}

function drawSpectrogram(stem) {
  const canvas = stem.row.querySelector("canvas");
  const width = Math.max(200, Math.round(canvas.clientWidth * devicePixelRatio)), height = 96;
  canvas.width = width; canvas.height = height;
  const n = 2048, buffer = stem.buffer, rate = buffer.sampleRate;
  const channels = [...Array(buffer.numberOfChannels).keys()].map((c) => buffer.getChannelData(c));
  const hann = Float32Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  const maxBin = Math.min(n / 2, Math.round((16000 / rate) * n)), minBin = Math.max(1, Math.round((40 / rate) * n));
  const image = canvas.getContext("2d").createImageData(width, height);
  const re = new Float32Array(n), im = new Float32Array(n), levels = new Float32Array(width * height);
  for (let x = 0; x < width; x++) {
    const start = Math.floor((x / width) * buffer.length - n / 2);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      const at = start + i;
      if (at >= 0 && at < buffer.length) for (const ch of channels) sum += ch[at];
      re[i] = (sum / channels.length) * hann[i]; im[i] = 0;
    }
    fft(re, im);
    for (let y = 0; y < height; y++) {
      // log-frequency rows from 40 Hz (bottom) to 16 kHz (top)
      const bin = Math.round(minBin * Math.pow(maxBin / minBin, (height - 1 - y) / (height - 1)));
      levels[y * width + x] = 10 * Math.log10(re[bin] * re[bin] + im[bin] * im[bin] + 1e-12);
    }
  }
  // 75 dB of range below the stem's loudest point, so quiet stems stay readable
  const top = levels.reduce((a, b) => Math.max(a, b), -120);
  for (let i = 0; i < levels.length; i++) {
    const [r, g, b] = colormap((levels[i] - top + 75) / 75);
    image.data.set([r, g, b, 255], i * 4);
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
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
  window.addEventListener("resize", () => studio.stems.forEach(drawSpectrogram));
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

wire();
loadInfo().then(restore);
