import { formatMac, parseMac } from './address.js';
import { checkUint, need, viewOf } from './bytes.js';
import type { Decoded } from './decoded.js';
import { EncodeError } from './errors.js';

export type { Decoded } from './decoded.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;

export interface VlanTag {
  tpid: number;
  pcp: number;
  dei: boolean;
  vid: number;
}

export interface EthernetHeader {
  dst: string;
  src: string;
  /** Outermost tag first. */
  vlans: VlanTag[];
  /** Type after the last tag; values below 0x0600 are 802.3 lengths and are passed through. */
  etherType: number;
}

const isTpid = (t: number) => t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ;

/**
 * No minimum-size padding is added: frames are written as seen on the sending host, where the
 * NIC pads later (this is also what captures of locally sent traffic contain).
 */
export function encodeEthernet(
  h: {
    dst: string;
    src: string;
    vlans?: Partial<VlanTag>[] & { vid: number }[];
    etherType: number;
  },
  payload: Uint8Array,
): Uint8Array {
  // The declared type is an intersection of arrays; each element is meant to be both at once.
  const vlans = (h.vlans ?? []) as (Partial<VlanTag> & { vid: number })[];
  checkUint('ethernet', 'etherType', h.etherType, 0xffff);
  const out = new Uint8Array(14 + vlans.length * 4 + payload.length);
  const v = viewOf(out);
  out.set(parseMac(h.dst), 0);
  out.set(parseMac(h.src), 6);
  let at = 12;
  vlans.forEach((tag, i) => {
    // 802.1ad: outer tags of a stack are S-tags (0x88a8), the innermost is a C-tag (0x8100).
    const tpid = tag.tpid ?? (i < vlans.length - 1 ? ETHERTYPE_QINQ : ETHERTYPE_VLAN);
    checkUint('ethernet', 'vlan tpid', tpid, 0xffff);
    if (!isTpid(tpid))
      throw new EncodeError('ethernet', `unsupported vlan tpid 0x${tpid.toString(16)}`);
    const pcp = checkUint('ethernet', 'vlan pcp', tag.pcp ?? 0, 7);
    const vid = checkUint('ethernet', 'vlan vid', tag.vid, 4095);
    v.setUint16(at, tpid);
    v.setUint16(at + 2, (pcp << 13) | (tag.dei ? 0x1000 : 0) | vid);
    at += 4;
  });
  v.setUint16(at, h.etherType);
  out.set(payload, at + 2);
  return out;
}

export function decodeEthernet(frame: Uint8Array): Decoded<EthernetHeader> {
  need(frame, 0, 14, 'ethernet', 'header');
  const v = viewOf(frame);
  const vlans: VlanTag[] = [];
  let at = 12;
  let type = v.getUint16(at);
  while (isTpid(type)) {
    need(frame, at, 6, 'ethernet', 'vlan tag');
    const tci = v.getUint16(at + 2);
    vlans.push({ tpid: type, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    at += 4;
    type = v.getUint16(at);
  }
  const headerLength = at + 2;
  return {
    header: { dst: formatMac(frame, 0), src: formatMac(frame, 6), vlans, etherType: type },
    headerLength,
    payload: frame.subarray(headerLength),
  };
}
