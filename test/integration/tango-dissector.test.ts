import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveEpochKey, TangoNode } from '../../native/tango.js';
import { internetChecksum } from '../../protocol/checksum.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from '../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { encodePcapHeader, encodePcapRecord } from '../../protocol/pcap.js';
import { tangoTimestampOf } from '../../protocol/tango.js';
import { tangoBook, tangoSignature, tangoTickOf } from '../../protocol/tango-signature.js';
import { encodeUdp } from '../../protocol/udp.js';
import { tshark } from '../helpers/tshark.js';

// Frames made by the C encoder (native/tango.ts) are written to a pcap and read by real tshark
// with the dissector shipped in tools/wireshark/tango.lua: registered on the UDP port, so no
// "Decode As". What tshark reports is compared with what the test asked the encoder for.

const DISSECTOR = fileURLToPath(new URL('../../tools/wireshark/tango.lua', import.meta.url));
const T0 = 1_717_200_000_000_000_000n;
const dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-tango-dissector-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secret = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const key = deriveEpochKey(secret, 3);

function udpInner(payload: string, srcPort: number): Uint8Array {
  const pseudo = { src: '192.0.2.10', dst: '198.51.100.20' };
  const udp = encodeUdp({ srcPort, dstPort: 6000 }, new TextEncoder().encode(payload), {
    checksum: 'compute',
    pseudo,
  });
  return encodeIPv4({ ...pseudo, protocol: IPPROTO_UDP }, udp);
}

function icmpEchoInner(id: number, seq: number): Uint8Array {
  const icmp = new Uint8Array(16);
  const v = new DataView(icmp.buffer);
  icmp[0] = 8; // echo request
  v.setUint16(4, id);
  v.setUint16(6, seq);
  icmp.set(new TextEncoder().encode('pingping'), 8);
  v.setUint16(2, internetChecksum(icmp));
  return encodeIPv4({ src: '192.0.2.10', dst: '198.51.100.20', protocol: IPPROTO_ICMP }, icmp);
}

interface Sent {
  pathId: number;
  nowNs: bigint;
  seq: number;
  inner: Uint8Array;
  frame: Uint8Array;
}

function writeCapture(name: string, frames: { nowNs: bigint; frame: Uint8Array }[]): string {
  const file = path.join(dir, name);
  const parts = [encodePcapHeader({ precision: 'nano' })];
  for (const f of frames)
    parts.push(encodePcapRecord({ timestampNs: f.nowNs, data: f.frame }, 'nano'));
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

async function fields(file: string, names: string[], extra: string[] = []): Promise<string[][]> {
  const out = await tshark(file, [
    ...extra,
    '-o',
    'udp.check_checksum:TRUE',
    '-o',
    'ip.check_checksum:TRUE',
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=,',
    ...names.flatMap((n) => ['-e', n]),
  ]);
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

describe('the Tango Wireshark dissector on frames from the C encoder (real tshark)', () => {
  const node = new TangoNode({ side: 1 });
  for (let pathId = 0; pathId < 8; pathId++) {
    node.setPath({
      pathId,
      localAddress: `2001:db8:b::${pathId + 1}`,
      peerAddress: `2001:db8:a${pathId}::1`,
      localMac: '02:00:00:00:00:0b',
      nextHopMac: '02:00:00:00:00:0a',
    });
  }
  node.setSendKey(3, key);
  const sent: Sent[] = [];
  const seqs = new Array(8).fill(0);
  for (let i = 0; i < 24; i++) {
    const pathId = (i * 3) % 8;
    const nowNs = T0 + BigInt(i) * 437_000_000n; // crosses the 4.295 s timestamp wrap
    const inner = i % 4 === 3 ? icmpEchoInner(0x77, i) : udpInner(`packet ${i}`, 5000 + i);
    sent.push({
      pathId,
      nowNs,
      seq: seqs[pathId]++,
      inner,
      frame: node.encapsulate(pathId, inner, nowNs),
    });
  }
  const file = writeCapture('tango.pcap', sent);

  it('decodes path, timestamp, sequence, signature and book, and the inner packet below', async () => {
    const rows = await fields(
      file,
      [
        'frame.protocols',
        'ipv6.src',
        'ipv6.dst',
        'udp.srcport',
        'udp.dstport',
        'udp.checksum.status',
        'wftango.path_id',
        'wftango.timestamp',
        'wftango.seq',
        'wftango.signature',
        'wftango.book',
        'ip.src',
        'ip.dst',
        'ip.checksum.status',
        'icmp.type',
        'icmp.seq',
        'data.text',
      ],
      ['-X', `lua_script:${DISSECTOR}`, '-o', 'data.show_as_text:TRUE'],
    );
    expect(rows).toHaveLength(sent.length);
    rows.forEach((row, i) => {
      const s = sent[i]!;
      const [
        protocols,
        src6,
        dst6,
        sport,
        dport,
        udpStatus,
        pathId,
        ts,
        seq,
        sig,
        book,
        src4,
        dst4,
        ipStatus,
        icmpType,
        icmpSeq,
        text,
      ] = row;
      const icmp = i % 4 === 3;
      expect(protocols).toBe(
        icmp
          ? 'eth:ethertype:ipv6:udp:wftango:ip:icmp:data'
          : 'eth:ethertype:ipv6:udp:wftango:ip:udp:data',
      );
      expect(src6).toBe(`2001:db8:b::${s.pathId + 1}`);
      expect(dst6).toBe(`2001:db8:a${s.pathId}::1`);
      expect(sport).toBe(icmp ? '61042' : `61042,${5000 + i}`);
      expect(dport).toBe(icmp ? '61042' : '61042,6000');
      // 1 = good: the outer checksum over the IPv6 pseudo-header, and the inner UDP one.
      expect(udpStatus).toBe(icmp ? '1' : '1,1');
      expect(Number(pathId)).toBe(s.pathId);
      expect(Number(ts)).toBe(tangoTimestampOf(s.nowNs));
      expect(Number(seq)).toBe(s.seq);
      const fields = { side: 1, pathId: s.pathId, epoch: 3, sequence: s.seq };
      expect(Number(sig)).toBe(
        tangoSignature(key, { ...fields, tick: tangoTickOf(s.nowNs) }, s.inner),
      );
      expect(Number(book)).toBe(tangoBook(key, fields));
      expect([src4, dst4, ipStatus]).toEqual(['192.0.2.10', '198.51.100.20', '1']);
      expect([icmpType, icmpSeq]).toEqual(icmp ? ['8', String(i)] : ['', '']);
      expect(text).toBe(icmp ? 'pingping' : `packet ${i}`);
    });
    // The timestamps wrapped inside the capture, and tshark saw both sides of it.
    const stamps = rows.map((r) => Number(r[7]));
    expect(stamps.some((t, i) => i > 0 && t < stamps[i - 1]!)).toBe(true);
  });

  it('shows the frames as plain UDP data without the script (so the script is what decodes them)', async () => {
    const rows = await fields(file, ['frame.protocols']);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(['eth:ethertype:ipv6:udp:data']));
  });

  it('flags padding bits and a short header as malformed', async () => {
    const padded = sent[0]!.frame.slice();
    padded[14 + 40 + 8 + 9]! |= 0x80; // book byte: only its low bit is the signature
    const short = sent[1]!.frame.slice(0, 14 + 40 + 8 + 6);
    new DataView(short.buffer).setUint16(14 + 4, 14); // IPv6 payload: UDP 8 + 6 bytes
    new DataView(short.buffer).setUint16(14 + 40 + 4, 14);
    const bad = writeCapture('bad.pcap', [
      { nowNs: T0, frame: padded },
      { nowNs: T0 + 1n, frame: short },
    ]);
    const rows = await fields(
      bad,
      ['wftango.book', '_ws.expert.message'],
      ['-X', `lua_script:${DISSECTOR}`],
    );
    expect(rows[0]![1]).toContain('Padding bits set');
    expect(rows[1]![1]).toContain('Shorter than the 10-byte Tango header');
  });

  it('follows the port preference when the nodes use another port', async () => {
    const other = new TangoNode({ side: 0, udpPort: 4000 });
    other.setPath({
      pathId: 6,
      localAddress: '2001:db8:a6::1',
      peerAddress: '2001:db8:b::7',
      localMac: '02:00:00:00:00:0a',
      nextHopMac: '02:00:00:00:00:0b',
    });
    other.setSendKey(3, key);
    const frame = other.encapsulate(6, udpInner('moved', 5555), T0);
    other.close();
    const moved = writeCapture('port.pcap', [{ nowNs: T0, frame }]);
    const script = ['-X', `lua_script:${DISSECTOR}`];
    const wanted = ['frame.protocols', 'wftango.path_id'];
    expect(await fields(moved, wanted, script)).toEqual([['eth:ethertype:ipv6:udp:data', '']]);
    expect(await fields(moved, wanted, [...script, '-o', 'wftango.port:4000'])).toEqual([
      ['eth:ethertype:ipv6:udp:wftango:ip:udp:data', '6'],
    ]);
  });
});
