import { describe, expect, it } from 'vitest';
import { buildPayload, MAX_PAYLOAD_BYTES } from '../../../functions/routing/payload.js';
import { decodeLispFrame, route } from './helpers.js';

const METADATA = { packet_id: '0000018f00000001', model_name: 'phi3-local', rloc: '127.0.0.1' };
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const LONG_QUERIES: [string, string][] = [
  ['ascii', 'a'.repeat(10_000)],
  ['emoji', '😀'.repeat(10_000)],
  ['cjk', '漢字かな交じり文'.repeat(1_250)],
  ['mixed with escapes', 'é"\\\n😀x漢\u0001'.repeat(1_250)],
  ['zwj emoji', '👩‍👩‍👧‍👦'.repeat(2_000)],
];

describe('buildPayload', () => {
  it('sends a short query whole, without truncation flags', () => {
    const r = buildPayload('What is DNS?', METADATA);
    expect(r.truncated).toBe(false);
    expect(r.queryChars).toBe(12);
    expect(JSON.parse(decoder.decode(r.bytes))).toEqual({
      query: 'What is DNS?',
      routing: METADATA,
    });
  });

  it.each(LONG_QUERIES)('truncates a long %s query to fit MAX_PAYLOAD_BYTES', (_, query) => {
    const r = buildPayload(query, METADATA);
    expect(r.truncated).toBe(true);
    expect(r.bytes.length).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    // Well-formed UTF-8 (fatal decoder) and valid JSON.
    const doc = JSON.parse(decoder.decode(r.bytes)) as Record<string, unknown>;
    expect(doc.query_truncated).toBe(true);
    const chars = Array.from(query);
    expect(doc.query_chars).toBe(chars.length);
    expect(doc.routing).toEqual(METADATA);
    const kept = doc.query as string;
    expect(query.startsWith(kept)).toBe(true);
    expect(Array.from(kept)).toHaveLength(r.queryChars);
    expect(r.queryChars).toBeGreaterThan(0);
    // Maximal: one more character would not have fitted.
    const onemore = encoder.encode(
      JSON.stringify({
        query: chars.slice(0, r.queryChars + 1).join(''),
        query_truncated: true,
        query_chars: chars.length,
        routing: METADATA,
      }),
    );
    expect(onemore.length).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  });

  it('keeps a query that fits exactly, and truncates one byte more', () => {
    const overhead = encoder.encode(JSON.stringify({ query: '', routing: METADATA })).length;
    const exact = 'x'.repeat(MAX_PAYLOAD_BYTES - overhead);
    const fits = buildPayload(exact, METADATA);
    expect(fits.truncated).toBe(false);
    expect(fits.bytes.length).toBe(MAX_PAYLOAD_BYTES);
    expect(buildPayload(`${exact}x`, METADATA).truncated).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    for (let pad = 0; pad < 4; pad++) {
      const r = buildPayload(`${'a'.repeat(pad)}${'😀'.repeat(2_000)}`, METADATA, 300);
      const kept = (JSON.parse(decoder.decode(r.bytes)) as { query: string }).query;
      expect(kept).not.toMatch(/[\ud800-\udbff]$/);
      expect(r.bytes.length).toBeLessThanOrEqual(300);
    }
  });

  it('throws a RangeError when the metadata alone exceeds the limit', () => {
    expect(() => buildPayload('hello', { blob: 'x'.repeat(2_000) })).toThrow(RangeError);
  });
});

describe('routeQuery with a long query', () => {
  it.each(LONG_QUERIES)('keeps the %s frame within a 1500-byte IP MTU', (_, query) => {
    const { decision, frame } = route(query);
    expect(frame.length).toBeLessThanOrEqual(1514);
    const d = decodeLispFrame(frame);
    expect(d.outerIp.header.totalLength).toBeLessThanOrEqual(1500);
    expect(d.outerIp.header.totalLength).toBe(frame.length - 14);
    expect(d.json.query_truncated).toBe(true);
    expect(query.startsWith(d.json.query as string)).toBe(true);
    expect(decision.lisp_packet.metadata.query_truncated).toBe(true);
    expect(decision.lisp_packet.metadata.frame_size).toBe(frame.length);
    expect(decision.lisp_packet.metadata.payload_size).toBe(d.innerUdp.payload.length);
  });
});
