import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { captureFileStream, type PcapFormat } from '../functions/pcap/file-stream.js';
import { lazyPackets } from './pcap.bench.js';
import { routedPackets } from './queries.js';
import { type BenchRow, now } from './stats.js';

const run = promisify(execFile);
const PACKETS = Number(process.env.BENCH_PACKETS ?? 100_000);

/**
 * Our capture-file writer against Wireshark's (editcap, C) on the same
 * 100 000 frames, both writing a file to the same disk. editcap also reads and
 * parses its input, and writes no per-packet comments; ours builds each pcapng
 * comment from the packet's metadata.
 */
export async function editcapBench(
  report: (row: BenchRow) => void = () => {},
): Promise<BenchRow[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-editcap-'));
  try {
    await run('editcap', ['-v']).catch(() => {
      throw new Error('editcap not found: apt-get install -y tshark (it brings wireshark-common)');
    });
    const base = [...routedPackets(512, Date.UTC(2025, 0, 1))];
    const ours = async (format: PcapFormat) => {
      const file = path.join(dir, `ours.${format}`);
      const t0 = now();
      await pipeline(
        captureFileStream(
          lazyPackets(PACKETS, base, Date.UTC(2025, 0, 1), { frameBytes: 0 }),
          format,
          {
            packets: 0,
            bytes: 0,
          },
        ),
        createWriteStream(file),
      );
      return { ms: now() - t0, file };
    };
    const theirs = async (format: PcapFormat, input: string) => {
      const file = path.join(dir, `editcap.${format}`);
      const t0 = now();
      await run('editcap', ['-F', format, input, file]);
      const ms = now() - t0;
      if ((await stat(file)).size === 0) throw new Error(`editcap wrote nothing for ${format}`);
      return ms;
    };
    const rows: BenchRow[] = [];
    const pcap = await ours('pcap');
    const pcapng = await ours('pcapng');
    for (const [format, oursMs] of [
      ['pcap', pcap.ms],
      ['pcapng', pcapng.ms],
    ] as const) {
      const editcapMs = await theirs(format, pcap.file);
      const row: BenchRow = {
        name: `${format} file of ${PACKETS.toLocaleString('en-US')} packets: wirefleet vs editcap`,
        value: editcapMs / oursMs,
        unit: '× editcap speed',
        note: `wirefleet ${(PACKETS / (oursMs / 1000)).toFixed(0)} packets/s (${(oursMs / 1000).toFixed(2)} s${format === 'pcapng' ? ', with a JSON comment per packet' : ''}); editcap -F ${format} from the pcap ${(PACKETS / (editcapMs / 1000)).toFixed(0)} packets/s (${(editcapMs / 1000).toFixed(2)} s, includes reading its input)`,
      };
      report(row);
      rows.push(row);
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
