/**
 * A tiny, real PNG encoder (8-bit RGB, zlib through node:zlib) and a pleasant procedural picture
 * for the Wiro emulator's outputs: a sky gradient, a glowing sun and three layers of hills, with
 * colours and shapes derived from the seed and the prompt, so different inputs give different
 * (but reproducible) images.
 */
import { deflateSync } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO-HDLC, the one PNG and zip use) of `bytes`, optionally continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c = (CRC_TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes `rgb` (width * height * 3 bytes, rows top to bottom) as an 8-bit RGB PNG. Every row uses
 * the Sub filter, which suits smooth gradients.
 */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`bad PNG size ${width}x${height}`);
  }
  const stride = width * 3;
  if (rgb.length !== stride * height) {
    throw new RangeError(`expected ${stride * height} bytes of RGB, got ${rgb.length}`);
  }
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const src = y * stride;
    const dst = y * (stride + 1);
    raw[dst] = 1; // filter type Sub: each byte minus the same channel of the pixel to its left
    raw.set(rgb.subarray(src, src + 3), dst + 1);
    for (let i = 3; i < stride; i++) {
      raw[dst + 1 + i] = (rgb[src + i] ?? 0) - (rgb[src + i - 3] ?? 0);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour (RGB)
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** FNV-1a, 32 bits. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: a small, good-enough seeded PRNG giving floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rgb = [number, number, number];

function hsl(hue: number, sat: number, light: number): Rgb {
  const h = (((hue % 360) + 360) % 360) / 360;
  const q = light < 0.5 ? light * (1 + sat) : light + sat - light * sat;
  const p = 2 * light - q;
  const channel = (t0: number): number => {
    let t = t0;
    if (t < 0) t += 1;
    if (t > 1) t -= 1;
    if (t < 1 / 6) return p + (q - p) * 6 * t;
    if (t < 1 / 2) return q;
    if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
    return p;
  };
  return [channel(h + 1 / 3) * 255, channel(h) * 255, channel(h - 1 / 3) * 255];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export interface PictureOptions {
  width: number;
  height: number;
  /** Wiro's `seed` parameter, as sent. */
  seed: string;
  prompt: string;
  /** Which sample of the task (0-based): each sample gets its own variation. */
  index?: number;
}

interface Hill {
  base: number;
  waves: { amp: number; freq: number; phase: number }[];
  top: Rgb;
  bottom: Rgb;
}

/** Draws the picture for these options into a width * height * 3 RGB buffer. */
export function renderPicture(options: PictureOptions): Uint8Array {
  const { width, height } = options;
  const random = prng(hashString(`${options.seed}\u0000${options.prompt}\u0000${options.index ?? 0}`));
  const hue = random() * 360;
  const skyTop = hsl(hue, 0.55, 0.18 + random() * 0.12);
  const horizon = hsl(hue + 30 + random() * 40, 0.75, 0.62 + random() * 0.12);
  const sunColour = hsl(hue + 50 + random() * 30, 0.95, 0.8);
  const hillHue = hue + 150 + random() * 60;
  const hills: Hill[] = [0, 1, 2].map((layer) => {
    const light = 0.5 - layer * 0.13;
    const top = mix(hsl(hillHue + layer * 12, 0.45, light), horizon, 0.35 - layer * 0.12);
    return {
      base: 0.55 + layer * 0.12 + random() * 0.05,
      waves: [0, 1, 2].map((w) => ({
        amp: (0.05 - layer * 0.01) / (w + 1),
        freq: (1 + random() * 2.5) * (w + 1) * Math.PI * 2,
        phase: random() * Math.PI * 2,
      })),
      top,
      bottom: mix(top, [0, 0, 0], 0.35),
    };
  });
  const minSide = Math.min(width, height);
  const sunX = width * (0.2 + random() * 0.6);
  const sunY = height * (0.22 + random() * 0.2);
  const sunR = minSide * (0.09 + random() * 0.06);
  const glowR = sunR * 3.5;

  // Skyline of each hill layer, per column, in pixels from the top.
  const ridges = hills.map((hill) => {
    const ridge = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      const u = x / width;
      let y = hill.base;
      for (const wave of hill.waves) y += wave.amp * Math.sin(u * wave.freq + wave.phase);
      ridge[x] = y * height;
    }
    return ridge;
  });

  const out = new Uint8ClampedArray(width * height * 3);
  const [ridge0, ridge1, ridge2] = ridges;
  const glowR2 = glowR * glowR;
  const sunR2 = sunR * sunR;
  // Per row: the sky colour and each hill layer's colour (hills darken towards the bottom).
  const rowColours = new Float64Array(12);
  for (let y = 0; y < height; y++) {
    const v = y / height;
    const sky = mix(skyTop, horizon, Math.min(1, v / 0.7) ** 1.4);
    rowColours.set(sky, 0);
    hills.forEach((hill, l) => {
      rowColours.set(mix(hill.top, hill.bottom, Math.max(0, Math.min(1, (v - hill.base + 0.08) / 0.4))), 3 + l * 3);
    });
    const dy = y - sunY;
    const nearSun = Math.abs(dy) < glowR;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      let c = 0;
      if (y >= (ridge2?.[x] ?? height)) c = 9;
      else if (y >= (ridge1?.[x] ?? height)) c = 6;
      else if (y >= (ridge0?.[x] ?? height)) c = 3;
      let r = rowColours[c] ?? 0;
      let g = rowColours[c + 1] ?? 0;
      let b = rowColours[c + 2] ?? 0;
      if (c === 0 && nearSun) {
        const dx = x - sunX;
        const d2 = dx * dx + dy * dy;
        if (d2 < glowR2) {
          let t = 1;
          if (d2 > sunR2) {
            const k = 1 - (Math.sqrt(d2) - sunR) / (glowR - sunR);
            t = 0.55 * k * k;
          }
          r += (sunColour[0] - r) * t;
          g += (sunColour[1] - g) * t;
          b += (sunColour[2] - b) * t;
        }
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
  return new Uint8Array(out.buffer);
}

/** The emulator's output image: `renderPicture` encoded as a PNG. */
export function picturePng(options: PictureOptions): Buffer {
  return encodePng(options.width, options.height, renderPicture(options));
}
