import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../native/index.js';
import { type Frame, writePcap } from '../helpers/capture-gen.js';
import {
  byTime,
  mixedCapture,
  type NfRecord,
  readNdjson,
  readNfdump,
  requireFlowTools,
  runCli,
  startNfcapd,
  udpPairsCapture,
} from '../helpers/flow-collectors.js';

// The same capture file metered by softflowd (the reference open-source exporter) and by us,
// each exporting IPFIX into its own nfcapd: the flows softflowd delivers must be ours, with
// equal per-direction packet and byte counts. softflowd reads files as fast as it can and has no
// pacing, so it loses datagrams at the collector; we count its losses and require none of ours.

let dir: string;
let mixed: string;
let fast: string;
let mixedFrames: Frame[];
let fastFrames: Frame[];
const FAST_FLOWS = 30_000;

beforeAll(() => {
  requireFlowTools();
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-softflowd-'));
  mixed = path.join(dir, 'mixed.pcap');
  mixedFrames = mixedCapture();
  writeFileSync(mixed, writePcap(mixedFrames));
  fast = path.join(dir, 'fast.pcap');
  fastFrames = byTime(udpPairsCapture(FAST_FLOWS));
  writeFileSync(fast, writePcap(fastFrames));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
const newDir = (name: string) => {
  const d = path.join(dir, `${name}-${++runs}`);
  mkdirSync(d);
  return d;
};

/** softflowd -r FILE into a fresh nfcapd; what it says it sent and what nfcapd kept. */
async function softflowd(file: string) {
  const work = newDir('softflowd');
  const nfcapd = await startNfcapd(work);
  try {
    // -c none: softflowd 1.1.0 blocks in accept() on its control socket when reading a file.
    const args = ['-r', file, '-n', `127.0.0.1:${nfcapd.port}`, '-v', '10', '-A', 'milli'];
    args.push('-T', 'full', '-c', 'none', '-p', path.join(work, 'softflowd.pid'), '-d');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('softflowd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`softflowd exited with ${code}: ${text}`));
      });
    });
    const m = /Flows exported: (\d+) \((\d+) records\) in (\d+) packets \((\d+) failures\)/.exec(
      output,
    );
    if (!m) throw new Error(`no export statistics from softflowd:\n${output}`);
    const [flows, records, datagrams, failures] = m.slice(1, 5).map(Number) as [
      number,
      number,
      number,
      number,
    ];
    const { files: nfFiles } = await nfcapd.stop();
    return { flows, records, datagrams, failures, received: readNfdump(nfFiles) };
  } finally {
    nfcapd.kill();
  }
}

/** Our CLI exporting IPFIX into a fresh nfcapd. */
async function ours(file: string) {
  const work = newDir('wirefleet');
  const nfcapd = await startNfcapd(work);
  try {
    const flowsFile = path.join(work, 'flows.ndjson');
    const run = await runCli(
      ['flows', '--read', file, '--export', `127.0.0.1:${nfcapd.port}`],
      flowsFile,
    );
    expect(run.code, run.stderr).toBe(0);
    const { files: nfFiles } = await nfcapd.stop();
    return { run, flows: readNdjson<FlowRecord>(flowsFile), received: readNfdump(nfFiles) };
  } finally {
    nfcapd.kill();
  }
}

interface Direction {
  packets: number;
  bytes: number;
}

const dkey = (proto: number, src: string, sport: number, dst: string, dport: number) =>
  `${proto} ${src}:${sport} > ${dst}:${dport}`;

/** Unidirectional records (softflowd without -b): one direction each. */
function directionsOfUniflows(records: NfRecord[]): Map<string, Direction> {
  const out = new Map<string, Direction>();
  for (const r of records) {
    const k = dkey(r.proto, r.src, r.sport, r.dst, r.dport);
    if (out.has(k)) throw new Error(`softflowd sent ${k} twice`);
    expect(r.outPackets).toBe(0);
    out.set(k, { packets: r.inPackets, bytes: r.inBytes });
  }
  return out;
}

/** Our biflow records split into directions, as a unidirectional exporter reports them. */
function directionsOfBiflows(records: NfRecord[]): Map<string, Direction> {
  const out = new Map<string, Direction>();
  for (const r of records) {
    const icmp = r.proto === 1 || r.proto === 58;
    out.set(dkey(r.proto, r.src, r.sport, r.dst, r.dport), {
      packets: r.inPackets,
      bytes: r.inBytes,
    });
    if (r.outPackets > 0) {
      const [sport, dport] = icmp ? [r.sport, r.dport] : [r.dport, r.sport];
      out.set(dkey(r.proto, r.dst, sport, r.src, dport), {
        packets: r.outPackets,
        bytes: r.outBytes,
      });
    }
  }
  return out;
}

/**
 * Ethernet trailer padding per direction: softflowd counts a packet as its wire length minus
 * the link header, so frames padded to 60 bytes count their padding; NetFlow/IPFIX octets are
 * IP bytes (total length), which is what we count.
 */
function paddingByDirection(frames: readonly Frame[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of frames) {
    const m = f.meta;
    if (m.kind !== 'ip') continue;
    const pad = f.originalLength - 14 - (m.vlanId ? 4 : 0) - m.ipBytes;
    const k = dkey(m.protocol, m.src, m.srcPort, m.dst, m.dstPort);
    out.set(k, (out.get(k) ?? 0) + pad);
  }
  return out;
}

async function compare(frames: readonly Frame[], file: string, label: string) {
  const padding = paddingByDirection(frames);
  const sf = await softflowd(file);
  const we = await ours(file);
  const sfDirections = directionsOfUniflows(sf.received);
  const ourDirections = directionsOfBiflows(we.received);
  const ourDirectionCount = we.flows.reduce(
    (n, f) => n + (f.packets_fwd > 0 ? 1 : 0) + (f.packets_rev > 0 ? 1 : 0),
    0,
  );
  const disagree: string[] = [];
  const unknown: string[] = [];
  let paddingBytes = 0;
  for (const [k, d] of sfDirections) {
    const o = ourDirections.get(k);
    const pad = padding.get(k) ?? 0;
    paddingBytes += pad;
    if (!o) unknown.push(k);
    else if (o.packets !== d.packets || o.bytes + pad !== d.bytes) {
      disagree.push(
        `${k}: softflowd ${d.packets}/${d.bytes}, ours ${o.packets}/${o.bytes} + padding ${pad}`,
      );
    }
  }
  const lost = sf.records - sf.received.length;
  const report = {
    file: label,
    flows: we.flows.length,
    directions: ourDirectionCount,
    softflowd: {
      flows: sf.flows,
      sent: sf.records,
      datagrams: sf.datagrams,
      received: sf.received.length,
      lost,
      lostPct: Number(((100 * lost) / sf.records).toFixed(1)),
      agree: sfDirections.size - disagree.length - unknown.length,
      disagree: disagree.length,
      /** Ethernet padding softflowd counted as bytes in what it delivered. */
      paddingBytes,
    },
    wirefleet: {
      sent: we.run.summary.exported,
      datagrams: we.run.summary.datagrams,
      received: we.received.length,
      lost: (we.run.summary.exported ?? 0) - we.received.length,
    },
  };
  console.info(`softflowd comparison ${JSON.stringify(report)}`);

  // The same flows: softflowd counted as many flows and directions as we did...
  expect(sf.flows).toBe(we.flows.length);
  expect(sf.records).toBe(ourDirectionCount);
  expect(sf.failures).toBe(0);
  // ...every direction it delivered is one of ours, with the same packets and bytes...
  expect(unknown.slice(0, 5)).toEqual([]);
  expect(disagree.slice(0, 5)).toEqual([]);
  // ...and nothing of ours was lost on the way.
  expect(we.run.summary).toMatchObject({ exported: we.flows.length, export_errors: 0 });
  expect(we.received).toHaveLength(we.flows.length);
  expect(ourDirections.size).toBe(ourDirectionCount);
  return report;
}

describe('softflowd and wirefleet on the same capture', () => {
  it('agree on every flow softflowd delivers (mixed TCP/UDP/ICMP, IPv4 and IPv6)', async () => {
    const report = await compare(mixedFrames, mixed, 'mixed');
    expect(report.softflowd.agree).toBe(report.softflowd.received);
  });

  it(`agree on a ${FAST_FLOWS}-flow file read at full speed, where only softflowd loses records`, async () => {
    const report = await compare(fastFrames, fast, 'fast');
    expect(report.wirefleet.lost).toBe(0);
    expect(report.softflowd.received).toBeGreaterThan(0);
  });
});
