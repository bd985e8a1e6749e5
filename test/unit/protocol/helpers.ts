import { expect } from 'vitest';
import { DecodeError } from '../../../protocol/errors.js';
import { prng } from '../../helpers/prng.js';

export { prng };

export function randomBytes(rand: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Runs `fn`; returns 'ok' or 'decode-error'. Any other throwable fails the test. */
export function decodeOrReject(fn: () => unknown): 'ok' | 'decode-error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof DecodeError) return 'decode-error';
    throw e;
  }
}

/** Every strict prefix of `valid` must decode or throw DecodeError, never anything else. */
export function checkTruncations(valid: Uint8Array, decode: (b: Uint8Array) => unknown) {
  let rejected = 0;
  for (let n = 0; n < valid.length; n++) {
    if (decodeOrReject(() => decode(valid.slice(0, n))) === 'decode-error') rejected++;
  }
  expect(decodeOrReject(() => decode(valid))).toBe('ok');
  return rejected;
}

/** Random buffers plus random mutations of `seedInput`: only DecodeError may escape. */
export function fuzz(
  seed: number,
  seedInput: Uint8Array,
  decode: (b: Uint8Array) => unknown,
  iterations = 3000,
) {
  const rand = prng(seed);
  const outcomes = { ok: 0, 'decode-error': 0 };
  for (let i = 0; i < iterations; i++) {
    let input: Uint8Array;
    if (i % 2 === 0) {
      input = randomBytes(rand, Math.floor(rand() * (seedInput.length + 16)));
    } else {
      input = seedInput.slice(0, Math.floor(rand() * (seedInput.length + 1)));
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips && input.length > 0; f++) {
        input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
      }
    }
    outcomes[decodeOrReject(() => decode(input))]++;
  }
  return outcomes;
}

export function bytesOf(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function expectDecodeError(fn: () => unknown, code?: DecodeError['code']) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  if (code) expect((caught as DecodeError).code).toBe(code);
}
