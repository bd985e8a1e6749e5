import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePcapHeader, readPcap } from '../../protocol/pcap.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { tshark, tsharkFields } from '../helpers/tshark.js';

let stack: TestStack;
let dir: string;
const routed: Record<string, any>[] = [];

const QUERIES = [
  'Write a Python function to calculate factorial',
  'Compare the architecture trade-offs of Raft and Paxos step by step',
  'What is BGP?',
  'Keep this private: summarise the internal-only salary table',
  'Implement quicksort in Rust',
  'Explain in depth why the sky is blue',
];

beforeAll(async () => {
  stack = await startTestStack({ urlTtlSeconds: 600 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-pcap-'));
  for (const [i, query] of QUERIES.entries()) {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query, source_eid: `10.9.0.${i + 1}`, priority: ['low', 'medium', 'high'][i % 3] },
    });
    routed.push((await res.json()) as Record<string, any>);
  }
});
afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface DownloadInfo {
  url: string;
  expires_at: string;
  key: string;
  filename: string;
  packets: number;
  bytes: number;
}

async function describeDownload(query: string): Promise<DownloadInfo> {
  const res = await stack.api(`/api/v1/packets/${query}`, {
    headers: { Accept: 'application/json' },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as DownloadInfo;
}

/** Fetches the presigned URL as any HTTP client would, and keeps the file for tshark. */
async function fetchFile(info: DownloadInfo, name: string) {
  const res = await fetch(info.url);
  expect(res.status).toBe(200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return { res, bytes, file };
}

describe('PCAP downloads', () => {
  it('redirects to a short-lived presigned URL scoped to the tenant', async () => {
    const res = await stack.api('/api/v1/packets/download/pcap?count=3');
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const url = new URL(res.headers.get('location')!);
    expect(url.pathname).toMatch(
      /^\/wirefleet-pcaps\/tenants\/default\/pcaps\/\d{8}\/lisp_packets_\d{8}_\d{6}-[0-9a-f]{8}\.pcap$/,
    );
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBe(600);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('response-content-type')).toBe('application/vnd.tcpdump.pcap');
  });

  it('serves a pcap that tshark dissects as LISP with the values the API returned', async () => {
    const info = await describeDownload(`download/pcap?count=${QUERIES.length}`);
    expect(info.packets).toBe(QUERIES.length);
    const expiresIn = Date.parse(info.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60 * 1000);
    expect(info.filename).toMatch(/^lisp_packets_\d{8}_\d{6}\.pcap$/);

    const { res, bytes, file } = await fetchFile(info, 'all.pcap');
    expect(res.headers.get('content-type')).toBe('application/vnd.tcpdump.pcap');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${info.filename}"`);
    expect(bytes.length).toBe(info.bytes);
    expect(decodePcapHeader(bytes)).toMatchObject({ linktype: 1, precision: 'micro' });
    expect([...readPcap(bytes)].length).toBe(QUERIES.length);

    const rows = await tsharkFields(
      file,
      [
        'frame.protocols',
        'lisp-data.nonce',
        'lisp-data.iid',
        'lisp-data.lsb8',
        'ip.src',
        'ip.dst',
        'udp.srcport',
        'udp.dstport',
        'ip.checksum.status',
      ],
      undefined,
    );
    expect(rows).toHaveLength(QUERIES.length);
    rows.forEach((row, i) => {
      const p = routed[i]!.lisp_packet; // the file is in time order, oldest first
      const [protocols, nonce, iid, lsb, ipSrc, ipDst, sport, dport] = row;
      expect(protocols).toMatch(/^eth:ethertype:ip:udp:lisp-data:ip:udp/);
      expect(Number(nonce)).toBe(p.lisp_header.nonce);
      expect(Number(iid)).toBe(p.lisp_header.instance_id);
      expect(Number(lsb)).toBe(p.lisp_header.lsb);
      expect(ipSrc).toBe(`${p.outer_header.src_ip},${p.inner_header.src_ip}`);
      expect(ipDst).toBe(`${p.outer_header.dst_ip},${p.inner_header.dst_ip}`);
      expect(sport!.split(',')[0]).toBe(String(p.outer_header.src_port));
      expect(dport!.split(',')[0]).toBe('4341');
    });
  });

  it('raises no tshark expert warnings about the LISP header', async () => {
    const info = await describeDownload(`download/pcap?count=${QUERIES.length}`);
    const { file } = await fetchFile(info, 'expert.pcap');
    const experts = await tshark(file, ['-q', '-z', 'expert,note']);
    expect(experts).not.toMatch(/LISP|lisp-data|N and V|E is set/i);
    const flagged = await tsharkFields(
      file,
      ['frame.number'],
      'lisp-data.flags.en_invalid || lisp-data.flags.nv_invalid || _ws.malformed',
    );
    expect(flagged).toHaveLength(0);
  });

  it('serves pcapng with each packet routing metadata as a comment', async () => {
    const info = await describeDownload('download/pcap?count=6&format=pcapng');
    expect(info.filename).toMatch(/\.pcapng$/);
    const { res, file } = await fetchFile(info, 'all.pcapng');
    expect(res.headers.get('content-type')).toBe('application/x-pcapng');
    const rows = await tsharkFields(file, ['frame.protocols', 'frame.comment', 'lisp-data.nonce']);
    expect(rows).toHaveLength(6);
    rows.forEach(([protocols, comment, nonce], i) => {
      expect(protocols).toMatch(/lisp-data:ip:udp/);
      const meta = JSON.parse(comment!.replace(/\\n$/, ''));
      expect(meta.packet_id).toBe(routed[i]!.lisp_packet.packet_id);
      expect(meta.model_name).toBe(routed[i]!.selected_model);
      expect(meta.nonce).toBe(Number(nonce));
    });
  });

  it('downloads a single packet by id', async () => {
    const p = routed[2]!.lisp_packet;
    const info = await describeDownload(`${p.packet_id}/download/pcap`);
    expect(info.filename).toBe(`lisp_packet_${p.packet_id}.pcap`);
    expect(info.packets).toBe(1);
    const { res, file } = await fetchFile(info, 'one.pcap');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="lisp_packet_${p.packet_id}.pcap"`,
    );
    const rows = await tsharkFields(file, ['lisp-data.nonce']);
    expect(rows).toEqual([[String(p.lisp_header.nonce)]]);
    const missing = await stack.api('/api/v1/packets/0000000000000001/download/pcap');
    expect(missing.status).toBe(404);
  });

  it('filters by model, workload type and time', async () => {
    const model = routed[1]!.selected_model as string;
    const expected = routed.filter((r) => r.selected_model === model).length;
    const byModel = await describeDownload(`download/pcap?count=100&model=${model}`);
    expect(byModel.packets).toBe(expected);
    const workload = routed[0]!.workload_type as string;
    const byWorkload = await describeDownload(`download/pcap?count=100&workload_type=${workload}`);
    expect(byWorkload.packets).toBe(routed.filter((r) => r.workload_type === workload).length);
    const since = routed[3]!.lisp_packet.timestamp;
    const recent = await describeDownload(`download/pcap?count=100&since=${since}`);
    expect(recent.packets).toBe(routed.filter((r) => r.lisp_packet.timestamp >= since).length);
    const blanks = await describeDownload(
      'download/pcap?count=100&format=&model=&workload_type=&since=&until=',
    );
    expect(blanks.packets).toBe(routed.length);
    const counted = await describeDownload('download/pcap?count=2');
    expect(counted.packets).toBe(2);
    const none = await stack.api('/api/v1/packets/download/pcap?model=no-such-model');
    expect(none.status).toBe(404);
    expect(((await none.json()) as any).error.code).toBe('no_packets');
  });

  it.each([
    'count=0',
    'count=100001',
    'count=ten',
    'format=erf',
    'workload_type=poetry',
    'since=yesterday',
    'since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z',
  ])('rejects download?%s with 400', async (query) => {
    const res = await stack.api(`/api/v1/packets/download/pcap?${query}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_request');
  });
});
