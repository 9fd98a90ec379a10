/**
 * A fast 32-bit non-cryptographic hash over ranges of a string (the request's JSON text, so a
 * 400 KB body is hashed where it lies, never copied or re-serialised). Two multiply-xor lanes in
 * the style of cyrb53, folded to 32 bits at the end. Not collision-resistant against an attacker:
 * a client can only fool its own cache report with it, and a chance collision between two
 * different segments at the same position is about 1 in 4 billion per comparison.
 */

export class Hasher {
  private h1: number;
  private h2: number;

  constructor(seed = 0) {
    this.h1 = 0xdeadbeef ^ seed;
    this.h2 = 0x41c6ce57 ^ seed;
  }

  /** Adds text[start, end). */
  update(text: string, start = 0, end = text.length): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = start; i < end; i++) {
      const code = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  /** Adds a number (a separator between pieces, another hash). */
  updateNumber(value: number): this {
    this.h1 = Math.imul(this.h1 ^ value, 2654435761);
    this.h2 = Math.imul(this.h2 ^ value, 1597334677);
    return this;
  }

  digest(): number {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h1 ^ h2) >>> 0;
  }
}

/** Chains a segment's hash onto the hash of everything before it. */
export function chain(previous: number, segment: number): number {
  return new Hasher(previous).updateNumber(segment).digest();
}

export function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}

/** 32-bit values as base64 of their big-endian bytes: 4 bytes (5⅓ characters) per segment. */
export function encodeHashes(values: readonly number[]): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => {
    view.setUint32(i * 4, value);
  });
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function decodeHashes(encoded: string): Uint32Array {
  const binary = atob(encoded);
  const out = new Uint32Array(binary.length >> 2);
  for (let i = 0; i < out.length; i++) {
    out[i] =
      ((binary.charCodeAt(i * 4) << 24) |
        (binary.charCodeAt(i * 4 + 1) << 16) |
        (binary.charCodeAt(i * 4 + 2) << 8) |
        binary.charCodeAt(i * 4 + 3)) >>>
      0;
  }
  return out;
}
