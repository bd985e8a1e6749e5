import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let stack: TestStack;
const routed: Record<string, any>[] = [];

const QUERIES = [
  { query: 'Write a Python function to sort a list', priority: 'medium' },
  { query: 'Analyze the trade-offs of microservices step by step', priority: 'high' },
  { query: 'What is DNS?', priority: 'low' },
  { query: 'Review this confidential contract', priority: 'high' },
];

beforeAll(async () => {
  stack = await startTestStack();
  for (const body of QUERIES) {
    const res = await stack.api('/api/v1/route', { method: 'POST', json: body });
    routed.push((await res.json()) as Record<string, any>);
  }
});
afterAll(() => stack?.stop());

const json = async (res: Response) => (await res.json()) as Record<string, any>;

describe('packets', () => {
  it('counts packets in stats', async () => {
    const { stats } = await json(await stack.api('/api/v1/packets/stats'));
    expect(stats.total_packets).toBe(QUERIES.length);
    expect(stats.recent_packets).toBe(QUERIES.length);
    const sizes = routed.map((r) => r.lisp_packet.metadata.frame_size as number);
    expect(stats.total_bytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(stats.avg_packet_size).toBeCloseTo(stats.total_bytes / QUERIES.length, 1);
    const byModel: Record<string, number> = {};
    for (const r of routed) byModel[r.selected_model] = (byModel[r.selected_model] ?? 0) + 1;
    expect(stats.packets_by_model).toEqual(byModel);
    expect(
      Object.values(stats.packets_by_workload as Record<string, number>).reduce((a, b) => a + b),
    ).toBe(4);
  });

  it('lists recent packets newest first, honouring count', async () => {
    const body = await json(await stack.api('/api/v1/packets/recent?count=3'));
    expect(body.count).toBe(3);
    const ids = body.packets.map((p: { packet_id: string }) => p.packet_id);
    expect(ids).toEqual(
      routed
        .slice(-3)
        .reverse()
        .map((r) => r.lisp_packet.packet_id),
    );
    const all = await json(await stack.api('/api/v1/packets/recent'));
    expect(all.count).toBe(4);
  });

  it.each(['0', '-1', '1001', 'abc', '1.5'])('rejects recent?count=%s', async (count) => {
    const res = await stack.api(`/api/v1/packets/recent?count=${count}`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_request');
  });

  it('returns one packet with decoded layers and its bytes', async () => {
    const id = routed[0]!.lisp_packet.packet_id;
    const body = await json(await stack.api(`/api/v1/packets/${id}`));
    expect(body.packet).toEqual(routed[0]!.lisp_packet);
    expect(body.layers.map((l: { name: string }) => l.name)).toEqual([
      'ethernet',
      'ipv4',
      'udp',
      'lisp',
      'ipv4',
      'udp',
      'payload',
    ]);
    expect(body.frame_hex.length).toBe(2 * routed[0]!.lisp_packet.metadata.frame_size);
  });

  it('answers 404 for an unknown packet and 400 for a malformed id', async () => {
    const unknown = await stack.api('/api/v1/packets/0000000000000000');
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe('packet_not_found');
    const malformed = await stack.api('/api/v1/packets/..%2F..%2Fetc');
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error.code).toBe('invalid_packet_id');
  });

  it('visualizes the newest packet, or a given one, as JSON or text', async () => {
    const newest = routed.at(-1)!.lisp_packet;
    const body = await json(
      await stack.api('/api/v1/packets/visualize', { method: 'POST', json: {} }),
    );
    expect(body.packet_id).toBe(newest.packet_id);
    expect(body.visualization).toContain('N|L|I');
    expect(body.visualization).toContain(`nonce=${newest.lisp_header.nonce}`);
    const first = routed[0]!.lisp_packet;
    const text = await (
      await stack.api('/api/v1/packets/visualize', {
        method: 'POST',
        json: { packet_id: first.packet_id },
        headers: { Accept: 'text/plain' },
      })
    ).text();
    expect(text).toContain(first.inner_header.dst_ip);
    expect(text).toContain(first.outer_header.dst_ip);
    const missing = await stack.api('/api/v1/packets/visualize', {
      method: 'POST',
      json: { packet_id: 'ffffffffffffffff' },
    });
    expect(missing.status).toBe(404);
  });
});
