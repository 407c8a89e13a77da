// WAV in and out for the studio page: exact samples at the file's own rate (decodeAudioData
// would resample to the audio device's rate), and 32-bit float wav for the remix download.
// Reads what cunet writes (32-bit float) and 16/24-bit PCM.

export function parseWav(data, context) {
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

export function encodeWav(channels, rate) {
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
