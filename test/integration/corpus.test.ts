import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../protocol/capture-file.js';
import { dissectFrame } from '../../protocol/dissect.js';
import { DecodeError } from '../../protocol/errors.js';
import { LINKTYPE_ETHERNET } from '../../protocol/pcap.js';

// tcpdump's test captures: real traffic plus deliberately malformed files. Every file must be
// read fully or refused with DecodeError; nothing else may escape the codecs.
// The corpus sits beside the checkout (../shared) or where CORPUS says, as for native/Makefile,
// so a clone elsewhere can still run it; the title names the directory it looked in.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpusDir = path.resolve(
  process.env.CORPUS || path.join(repoRoot, '../shared/corpus/tcpdump'),
);
const exists = existsSync(corpusDir);

describe.skipIf(!exists)(`tcpdump capture corpus (${corpusDir})`, () => {
  it('reads every file fully or throws DecodeError, and dissects Ethernet frames safely', () => {
    const files = readdirSync(corpusDir).sort();
    const stats = { read: 0, refused: 0, packets: 0, dissected: 0, dissectRefused: 0 };
    const unexpected: string[] = [];
    for (const name of files) {
      const bytes = new Uint8Array(readFileSync(path.join(corpusDir, name)));
      try {
        for (const packet of readCaptureFile(bytes)) {
          stats.packets++;
          if (packet.linktype !== LINKTYPE_ETHERNET) continue;
          try {
            dissectFrame(packet.data);
            stats.dissected++;
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
            stats.dissectRefused++;
          }
        }
        stats.read++;
      } catch (e) {
        if (e instanceof DecodeError) stats.refused++;
        else unexpected.push(`${name}: ${String(e)}`);
      }
    }
    console.info('corpus', stats);
    expect(unexpected).toEqual([]);
    expect(stats.read + stats.refused).toBe(files.length);
    expect(stats.read).toBeGreaterThanOrEqual(700);
    expect(stats.dissected).toBeGreaterThan(0);
  });
});
