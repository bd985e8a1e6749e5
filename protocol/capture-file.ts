import { DecodeError } from './errors.js';
import { type CapturedPacket, decodePcapHeader, readPcap } from './pcap.js';
import { readPcapng } from './pcapng.js';

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1]);

export function detectCaptureFormat(bytes: Uint8Array): 'pcap' | 'pcapng' {
  if (bytes.length < 4) {
    throw new DecodeError('capture', 'truncated', 'too short to hold a capture file magic', 0);
  }
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  if (magic === 0x0a0d0d0a) return 'pcapng';
  if (PCAP_MAGICS.has(magic)) return 'pcap';
  throw new DecodeError('capture', 'unsupported', 'neither a pcap nor a pcapng file', 0);
}

/**
 * Packets of either format with their link type. pcapng Simple Packet Blocks carry no timestamp
 * and are reported at 0n.
 */
export function* readCaptureFile(
  bytes: Uint8Array,
): Generator<CapturedPacket & { linktype: number }, void, undefined> {
  if (detectCaptureFormat(bytes) === 'pcap') {
    const { linktype } = decodePcapHeader(bytes);
    for (const p of readPcap(bytes)) yield { ...p, linktype };
    return;
  }
  let linktypes: number[] = [];
  for (const block of readPcapng(bytes)) {
    switch (block.type) {
      case 'shb':
        linktypes = [];
        break;
      case 'idb':
        linktypes.push(block.linktype);
        break;
      case 'epb':
      case 'spb': {
        // readPcapng already rejected packets that name a missing interface.
        const id = block.type === 'epb' ? block.interfaceId : 0;
        const { data, originalLength } = block;
        const timestampNs = block.type === 'epb' ? block.timestampNs : 0n;
        yield { timestampNs, data, originalLength, linktype: linktypes[id] ?? 0 };
        break;
      }
      default:
        break;
    }
  }
}
