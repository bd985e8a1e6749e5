import { describe, expect, it } from 'vitest';
import { detectCaptureFormat, readCaptureFile } from '../../../protocol/capture-file.js';
import { encodePcapHeader, encodePcapRecord, LINKTYPE_RAW } from '../../../protocol/pcap.js';
import {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
} from '../../../protocol/pcapng.js';
import { checkTruncations, concat, expectDecodeError, fuzz } from './helpers.js';

const T = 1_700_000_000_000_000_001n;

const pcap = concat(
  encodePcapHeader({ linktype: LINKTYPE_RAW, precision: 'nano' }),
  encodePcapRecord({ timestampNs: T, data: Uint8Array.of(0x45) }, 'nano'),
);
const pcapng = concat(
  encodeSectionHeader(),
  encodeInterfaceDescription({ linktype: 1, tsresolNanos: true }),
  encodeInterfaceDescription({ linktype: LINKTYPE_RAW }),
  encodeEnhancedPacket(
    { interfaceId: 1, timestampNs: T, data: Uint8Array.of(1) },
    { tsresolNanos: false },
  ),
  encodeEnhancedPacket({ timestampNs: T, data: Uint8Array.of(2, 3) }, { tsresolNanos: true }),
);

describe('capture files', () => {
  it('detects both formats by magic', () => {
    expect(detectCaptureFormat(pcap)).toBe('pcap');
    expect(detectCaptureFormat(encodePcapHeader())).toBe('pcap');
    expect(detectCaptureFormat(pcapng)).toBe('pcapng');
    expectDecodeError(() => detectCaptureFormat(new TextEncoder().encode('GIF89a')), 'unsupported');
    expectDecodeError(() => detectCaptureFormat(new Uint8Array(3)), 'truncated');
  });

  it('reads pcap packets with the file link type', () => {
    expect([...readCaptureFile(pcap)]).toEqual([
      { timestampNs: T, data: Uint8Array.of(0x45), originalLength: 1, linktype: LINKTYPE_RAW },
    ]);
  });

  it('reads pcapng packets with their interface link type', () => {
    const packets = [...readCaptureFile(pcapng)];
    expect(packets.map((p) => [p.linktype, p.timestampNs, p.data.length])).toEqual([
      [LINKTYPE_RAW, T - 1n, 1],
      [1, T, 2],
    ]);
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    const drain = (b: Uint8Array) => [...readCaptureFile(b)];
    checkTruncations(pcap, drain);
    checkTruncations(pcapng, drain);
    fuzz(11, pcap, drain, 1000);
    fuzz(12, pcapng, drain, 2000);
  });
});
