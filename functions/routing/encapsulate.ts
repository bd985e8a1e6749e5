import { ETHERTYPE_IPV4, encodeEthernet } from '../../protocol/ethernet.js';
import { IPPROTO_UDP } from '../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../protocol/ipv4.js';
import { encodeLispData, LISP_DATA_PORT } from '../../protocol/lisp.js';
import { encodeUdp } from '../../protocol/udp.js';

/** Locally administered MACs for the ITR and its next hop. */
export const ITR_MAC = '02:00:5e:00:00:01';
export const NEXT_HOP_MAC = '02:00:5e:00:00:02';

export interface EncapsulationInput {
  itrRloc: string;
  etrRloc: string;
  outerSrcPort: number;
  outerIpId: number;
  sourceEid: string;
  destEid: string;
  innerSrcPort: number;
  innerDstPort: number;
  innerTtl: number;
  dscp: number;
  nonce: number;
  instanceId: number;
  lsb: number;
  payload: Uint8Array;
}

/**
 * Ethernet / IPv4 (RLOCs) / UDP dport 4341 / LISP (N, L, I) / IPv4 (EIDs) / UDP / payload.
 * The outer TTL and DSCP are copied from the inner header (RFC 9300 §5.3);
 * the outer UDP checksum is zero, as an ITR SHOULD send over IPv4.
 */
export function encapsulate(input: EncapsulationInput): Uint8Array {
  const innerUdp = encodeUdp(
    { srcPort: input.innerSrcPort, dstPort: input.innerDstPort },
    input.payload,
    { checksum: 'compute', pseudo: { src: input.sourceEid, dst: input.destEid } },
  );
  const innerIp = encodeIPv4(
    {
      src: input.sourceEid,
      dst: input.destEid,
      protocol: IPPROTO_UDP,
      ttl: input.innerTtl,
      dscp: input.dscp,
      dontFragment: true,
    },
    innerUdp,
  );
  const lisp = encodeLispData({
    nonce: input.nonce,
    instanceId: input.instanceId,
    lsb: input.lsb,
  });
  const lispDatagram = new Uint8Array(lisp.length + innerIp.length);
  lispDatagram.set(lisp, 0);
  lispDatagram.set(innerIp, lisp.length);
  const outerUdp = encodeUdp(
    { srcPort: input.outerSrcPort, dstPort: LISP_DATA_PORT },
    lispDatagram,
    { checksum: 'zero' },
  );
  const outerIp = encodeIPv4(
    {
      src: input.itrRloc,
      dst: input.etrRloc,
      protocol: IPPROTO_UDP,
      ttl: input.innerTtl,
      dscp: input.dscp,
      identification: input.outerIpId,
      dontFragment: true,
    },
    outerUdp,
  );
  return encodeEthernet({ dst: NEXT_HOP_MAC, src: ITR_MAC, etherType: ETHERTYPE_IPV4 }, outerIp);
}
