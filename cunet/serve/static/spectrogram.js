// Spectrograms for the studio page, drawn in a canvas from decoded samples: a Hann-windowed
// 2048-point FFT per pixel column of the channels' mean, log frequency from 40 Hz (bottom) to
// 16 kHz (top), 75 dB of range below the loudest point.

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

export function drawSpectrogram(canvas, buffer) {
  const width = Math.max(200, Math.round(canvas.clientWidth * devicePixelRatio)), height = 96;
  canvas.width = width; canvas.height = height;
  const n = 2048, rate = buffer.sampleRate;
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
