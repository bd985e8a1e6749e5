import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowExporter, parseCollector } from '../../native/exporter.js';
import { FlowMeter, type FlowRecord } from '../../native/index.js';
import { eventually } from '../helpers/agent-process.js';
import { writePcap } from '../helpers/capture-gen.js';
import {
  flagsByte,
  mixedCapture,
  NFCAPD_FILE,
  type NfRecord,
  nfdumpFlags,
  nfdumpStat,
  readNdjson,
  readNfdump,
  requireFlowTools,
  runCli,
  startNfcapd,
  udpPairsCapture,
} from '../helpers/flow-collectors.js';

// `wirefleet flows --export` into a real nfcapd (nfdump 1.7), read back with nfdump: every
// record arrives, with our addresses, ports, counters, flags and times.

let dir: string;
let mixed: string;
let big: string;
const BIG_FLOWS = 52_000;

beforeAll(() => {
  requireFlowTools();
  dir = mkdtempSync(path.join(os.tmpdir(), 'wirefleet-export-'));
  mixed = path.join(dir, 'mixed.pcap');
  writeFileSync(mixed, writePcap(mixedCapture()));
  big = path.join(dir, 'big.pcap');
  writeFileSync(big, writePcap(udpPairsCapture(BIG_FLOWS)));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let runs = 0;

/** Meters `file` with the CLI exporting to a fresh nfcapd; returns both sides. */
async function exportFile(file: string, version: 5 | 10) {
  const nfdir = path.join(dir, `nfcapd-${version}-${++runs}`);
  mkdirSync(nfdir);
  const nfcapd = await startNfcapd(nfdir);
  try {
    const flowsFile = path.join(dir, `flows-${runs}.ndjson`);
    const run = await runCli(
      [
        'flows',
        '--read',
        file,
        '--export',
        `127.0.0.1:${nfcapd.port}`,
        '--netflow-version',
        String(version),
      ],
      flowsFile,
    );
    expect(run.code, run.stderr).toBe(0);
    const { files: nfFiles } = await nfcapd.stop();
    return { run, flows: readNdjson<FlowRecord>(flowsFile), nfFiles };
  } finally {
    nfcapd.kill();
  }
}

/** Whole ms of an epoch-seconds value with µs resolution (what both formats carry). */
const ms = (seconds: number) => Math.floor(Math.round(seconds * 1e6) / 1000);
const sum = <T>(rows: T[], f: (r: T) => number) => rows.reduce((n, r) => n + f(r), 0);
const key = (src: string, sport: number, dst: string, dport: number, proto: number) =>
  `${proto} ${src}:${sport} > ${dst}:${dport}`;
const nfKey = (r: NfRecord) => key(r.src, r.sport, r.dst, r.dport, r.proto);

/** The NetFlow v5 records our flows must become (netflow5.c's mapping). */
function v5Expected(flows: FlowRecord[]): Map<string, NfRecord> {
  const out = new Map<string, NfRecord>();
  for (const f of flows) {
    if (f.ip_version !== 4) continue;
    const icmp = f.protocol === 1;
    const base = {
      proto: f.protocol,
      flags: nfdumpFlags(flagsByte(f.tcp_flags)),
      startMs: ms(f.first_seen),
      endMs: ms(f.last_seen),
      outPackets: 0,
      outBytes: 0,
      vlan: 0,
    };
    if (f.packets_fwd > 0) {
      const r = { ...base, src: f.src_ip, dst: f.dst_ip, sport: f.src_port, dport: f.dst_port };
      out.set(nfKey({ ...r, inPackets: 0, inBytes: 0 }), {
        ...r,
        inPackets: f.packets_fwd,
        inBytes: f.bytes_fwd,
      });
    }
    if (f.packets_rev > 0) {
      const r = {
        ...base,
        src: f.dst_ip,
        dst: f.src_ip,
        sport: icmp ? f.src_port : f.dst_port,
        dport: icmp ? f.dst_port : f.src_port,
      };
      out.set(nfKey({ ...r, inPackets: 0, inBytes: 0 }), {
        ...r,
        inPackets: f.packets_rev,
        inBytes: f.bytes_rev,
      });
    }
  }
  return out;
}

/** The IPFIX biflow record each of our flows must become (ipfix.c). */
function ipfixExpected(flows: FlowRecord[]): Map<string, NfRecord> {
  const out = new Map<string, NfRecord>();
  for (const f of flows) {
    const r: NfRecord = {
      src: f.src_ip,
      dst: f.dst_ip,
      sport: f.src_port,
      dport: f.dst_port,
      proto: f.protocol,
      flags: nfdumpFlags(flagsByte(f.tcp_flags)),
      startMs: ms(f.first_seen),
      endMs: ms(f.last_seen),
      inPackets: f.packets_fwd,
      inBytes: f.bytes_fwd,
      outPackets: f.packets_rev,
      outBytes: f.bytes_rev,
      vlan: f.vlan_id,
    };
    out.set(nfKey(r), r);
  }
  return out;
}

/** Every received record equals the expected one for its 5-tuple, and none is missing. */
function expectSameRecords(received: NfRecord[], expected: Map<string, NfRecord>) {
  const got = new Map(received.map((r) => [nfKey(r), r]));
  expect(got.size).toBe(received.length); // no duplicates
  const missing = [...expected.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !expected.has(k));
  expect({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }).toEqual({
    missing: [],
    extra: [],
  });
  const canon = (r: NfRecord | undefined) =>
    r &&
    [r.src, r.sport, r.dst, r.dport, r.proto, r.flags, r.inPackets, r.inBytes]
      .concat([r.outPackets, r.outBytes, r.startMs, r.endMs, r.vlan])
      .join(' ');
  const wrong = received.filter((r) => canon(r) !== canon(expected.get(nfKey(r))));
  expect(wrong.slice(0, 3).map((r) => ({ received: r, expected: expected.get(nfKey(r)) }))).toEqual(
    [],
  );
}

describe('flow export into nfcapd', () => {
  it('NetFlow v5: one record per direction, every IPv4 record arrives as sent; IPv6 skipped and counted', async () => {
    const { run, flows, nfFiles } = await exportFile(mixed, 5);
    const v4 = flows.filter((f) => f.ip_version === 4);
    const v6 = flows.filter((f) => f.ip_version === 6);
    expect(v4.length).toBeGreaterThan(3000);
    expect(v6.length).toBe(300);
    const expected = v5Expected(flows);
    const received = readNfdump(nfFiles);
    const stat = nfdumpStat(nfFiles);
    console.info(
      `v5: sent ${run.summary.exported} records in ${run.summary.datagrams} datagrams, nfcapd received ${received.length}`,
    );

    expect(run.summary).toMatchObject({
      flows: flows.length,
      exported: expected.size,
      export_errors: 0,
      skipped_v6: v6.length,
    });
    expect(received.length).toBe(expected.size);
    expect(stat).toEqual({
      flows: expected.size,
      packets: sum(v4, (f) => f.packets),
      bytes: sum(v4, (f) => f.bytes),
      sequenceFailures: 0,
    });
    expect(sum(received, (r) => r.inPackets)).toBe(sum(v4, (f) => f.packets));
    expect(sum(received, (r) => r.inBytes)).toBe(sum(v4, (f) => f.bytes));
    expectSameRecords(received, expected);

    // A few flows spelled out: a TCP conversation both ways, a one-way UDP query, ICMP.
    const tcp = v4.find((f) => f.src_ip === '10.1.0.1')!;
    expect(tcp).toMatchObject({ protocol: 6, dst_ip: '198.51.100.2', dst_port: 443 });
    const there = received.find((r) => r.src === '10.1.0.1' && r.proto === 6)!;
    const back = received.find((r) => r.dst === '10.1.0.1' && r.proto === 6)!;
    expect(there).toMatchObject({
      dst: '198.51.100.2',
      sport: tcp.src_port,
      dport: 443,
      inPackets: tcp.packets_fwd,
      inBytes: tcp.bytes_fwd,
      flags: '...AP.SF',
    });
    expect(back).toMatchObject({
      src: '198.51.100.2',
      sport: 443,
      dport: tcp.src_port,
      inPackets: tcp.packets_rev,
      inBytes: tcp.bytes_rev,
    });
    expect(Math.abs(there.startMs - tcp.first_seen * 1000)).toBeLessThan(1);
    expect(Math.abs(there.endMs - tcp.last_seen * 1000)).toBeLessThan(1);
    expect(received.filter((r) => r.src === '10.2.0.0')).toHaveLength(1); // query, no answer
    expect(received.filter((r) => r.dst === '10.2.0.0')).toHaveLength(0);
    const echo = received.find((r) => r.src === '10.3.0.1')!;
    expect(echo).toMatchObject({ proto: 1, dst: '192.0.2.9', sport: 0, dport: 8 << 8 });
  });

  it('IPFIX: one biflow record per flow (RFC 5103 reverse counters), IPv4 and IPv6, totals equal ours', async () => {
    const { run, flows, nfFiles } = await exportFile(mixed, 10);
    const expected = ipfixExpected(flows);
    const received = readNfdump(nfFiles);
    const stat = nfdumpStat(nfFiles);
    console.info(
      `IPFIX: sent ${run.summary.exported} records in ${run.summary.datagrams} messages, nfcapd received ${received.length}`,
    );

    expect(run.summary).toMatchObject({
      flows: flows.length,
      exported: flows.length,
      export_errors: 0,
      skipped_v6: 0,
    });
    expect(received.length).toBe(flows.length);
    expect(stat).toEqual({
      flows: flows.length,
      packets: sum(flows, (f) => f.packets),
      bytes: sum(flows, (f) => f.bytes),
      sequenceFailures: 0,
    });
    expect(sum(received, (r) => r.inPackets + r.outPackets)).toBe(sum(flows, (f) => f.packets));
    expect(sum(received, (r) => r.inBytes + r.outBytes)).toBe(sum(flows, (f) => f.bytes));
    expectSameRecords(received, expected);

    const v6 = flows.find((f) => f.src_ip === '2001:db8:1::1')!;
    const r6 = received.find((r) => r.src === '2001:db8:1::1')!;
    expect(r6).toMatchObject({
      dst: '2001:db8:2::1',
      proto: 6,
      sport: v6.src_port,
      dport: v6.dst_port,
      inPackets: v6.packets_fwd,
      outPackets: v6.packets_rev,
      inBytes: v6.bytes_fwd,
      outBytes: v6.bytes_rev,
    });
    expect(Math.abs(r6.startMs - v6.first_seen * 1000)).toBeLessThan(1);
    expect(Math.abs(r6.endMs - v6.last_seen * 1000)).toBeLessThan(1);
    const tagged = flows.find((f) => f.vlan_id !== 0)!;
    expect(received.find((r) => r.src === tagged.src_ip)!.vlan).toBe(tagged.vlan_id);
    const reset = flows.find((f) => f.src_ip === '10.1.0.9')!;
    expect(received.find((r) => r.src === '10.1.0.9')!.flags).toBe('...APRS.'); // SYN, ACK, PSH, RST;
    expect(reset.end_reason).toBe('fin_rst');
  });

  it(`paces a full-speed file of ${BIG_FLOWS} flows so nfcapd receives every record`, async () => {
    for (const version of [5, 10] as const) {
      const started = performance.now();
      const { run, flows, nfFiles } = await exportFile(big, version);
      const seconds = (performance.now() - started) / 1000;
      const stat = nfdumpStat(nfFiles);
      const sent = version === 5 ? 2 * BIG_FLOWS : BIG_FLOWS;
      console.info(
        `${version === 5 ? 'v5' : 'IPFIX'} ${BIG_FLOWS} flows: sent ${run.summary.exported} records in ${run.summary.datagrams} datagrams, nfcapd received ${stat.flows} (sequence failures ${stat.sequenceFailures}), ${seconds.toFixed(2)} s`,
      );
      expect(flows).toHaveLength(BIG_FLOWS);
      expect(run.summary).toMatchObject({ exported: sent, export_errors: 0 });
      expect(stat).toEqual({
        flows: sent,
        packets: 2 * BIG_FLOWS,
        bytes: sum(flows, (f) => f.bytes),
        sequenceFailures: 0,
      });
    }
  });
  it('the slow path (FlowExporter.send with FlowRecord objects) exports exactly what the C path does', async () => {
    const flows: FlowRecord[] = [];
    const meter = new FlowMeter();
    try {
      meter.meterFile(mixed, (batch) => {
        for (const f of batch) flows.push(f);
      });
    } finally {
      meter.close();
    }
    for (const version of [5, 10] as const) {
      const nfdir = path.join(dir, `nfcapd-js-${version}`);
      mkdirSync(nfdir);
      const nfcapd = await startNfcapd(nfdir);
      try {
        const exporter = new FlowExporter({ version, targets: [`127.0.0.1:${nfcapd.port}`] });
        for (let i = 0; i < flows.length; i += 500) {
          expect(exporter.send(flows.slice(i, i + 500))).toBe(true);
        }
        exporter.close();
        const stats = exporter.stats(); // still answers after close
        const expected = version === 5 ? v5Expected(flows) : ipfixExpected(flows);
        expect(stats).toMatchObject({
          records_sent: expected.size,
          records_skipped: version === 5 ? 300 : 0,
          send_errors: 0,
          records_dropped: 0,
        });
        const { files } = await nfcapd.stop();
        expectSameRecords(readNfdump(files), expected);
        expect(nfdumpStat(files).sequenceFailures).toBe(0);
      } finally {
        nfcapd.kill();
      }
    }
    const exporter = new FlowExporter({ version: 10, targets: ['127.0.0.1:9'] });
    try {
      expect(() => exporter.send([{ ...flows[0]!, src_ip: 'not-an-address' }])).toThrow(
        /records\[0\]\.src_ip: not an IPv4 address/,
      );
      expect(() => exporter.send([{ ...flows[0]!, tcp_flags: 'SYN|BOGUS' }])).toThrow(
        /unknown flag "BOGUS"/,
      );
    } finally {
      exporter.close();
    }
  });

  it('reads every record back when nfcapd rotates mid-run (as it does at the top of each hour)', async () => {
    // nfcapd starts a new file at each multiple of -t on the wall clock; a 2 s interval makes
    // the rotation an hourly run can cross happen here, between the two halves of the export.
    const flows: FlowRecord[] = [];
    const meter = new FlowMeter();
    try {
      meter.meterFile(mixed, (batch) => {
        for (const f of batch) flows.push(f);
      });
    } finally {
      meter.close();
    }
    const nfdir = path.join(dir, 'nfcapd-rotating');
    mkdirSync(nfdir);
    const nfcapd = await startNfcapd(nfdir, { rotateSeconds: 2 });
    const exporter = new FlowExporter({ version: 10, targets: [`127.0.0.1:${nfcapd.port}`] });
    let open = true;
    try {
      const half = Math.floor(flows.length / 2);
      const finished = () => readdirSync(nfdir).filter((f) => NFCAPD_FILE.test(f));
      expect(exporter.send(flows.slice(0, half))).toBe(true);
      expect(exporter.flush()).toBe(true);
      const before = finished().length;
      // The second half goes out only once nfcapd has closed a file after the first.
      await eventually(
        async () => (finished().length > before ? true : undefined),
        'nfcapd to rotate',
        10_000,
        100,
      );
      expect(exporter.send(flows.slice(half))).toBe(true);
      exporter.close();
      open = false;
      // And once more, so every record is in a file nfcapd closed itself (its stop is not the test).
      const afterSecond = finished().length;
      await eventually(
        async () => (finished().length > afterSecond ? true : undefined),
        'nfcapd to rotate again',
        10_000,
        100,
      );
      const { files } = await nfcapd.stop();
      const perFile = files.map((f) => readNfdump([f]).length);
      expect(perFile.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      expectSameRecords(readNfdump(files), ipfixExpected(flows));
      expect(nfdumpStat(files)).toMatchObject({ flows: flows.length, sequenceFailures: 0 });
    } finally {
      if (open) exporter.close();
      nfcapd.kill();
    }
  });

  it('refuses collectors it would have to resolve, and bad versions, as usage errors', async () => {
    expect(parseCollector('[2001:db8::1]:4739')).toEqual({
      host: '2001:db8::1',
      port: 4739,
      family: 6,
      target: '[2001:db8::1]:4739',
    });
    expect(() => parseCollector('2001:db8::1:4739')).toThrow(/brackets/);
    expect(() => parseCollector('127.0.0.1:0')).toThrow(/port must be 1-65535/);
    const out = path.join(dir, 'usage.out');
    for (const [args, message] of [
      [['--export', 'collector.example:2055'], /hostnames are not resolved/],
      [['--export', '127.0.0.1:2055', '--netflow-version', '9'], /must be 5 or 10/],
      [['--netflow-version', '5'], /only applies with --export/],
      [['--export', '127.0.0.1:1,127.0.0.1:99999'], /port must be 1-65535/],
    ] as const) {
      const run = await runCli(['flows', '--read', mixed, ...args], out);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
