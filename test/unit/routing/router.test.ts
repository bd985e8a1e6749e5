import { describe, expect, it } from 'vitest';
import { ITR_MAC, NEXT_HOP_MAC } from '../../../functions/routing/encapsulate.js';
import { NoRouteError } from '../../../functions/routing/router.js';
import { IPPROTO_UDP } from '../../../protocol/ip-protocols.js';
import { LISP_DATA_PORT } from '../../../protocol/lisp.js';
import { udpChecksumValid } from '../../../protocol/udp.js';
import {
  decodeLispFrame,
  INSTANCE_ID,
  IP_ID,
  mappingsWith,
  NONCE,
  recordingRandom,
  route,
} from './helpers.js';

const QUERY = 'Write a Python function to calculate factorial';
const THREE_LOCATORS = mappingsWith({
  source_locators: [
    { rloc: '198.51.100.1' },
    { rloc: '198.51.100.2', reachable: false },
    { rloc: '198.51.100.3' },
  ],
});

describe('routeQuery packet', () => {
  it('builds an exact Ethernet/IPv4/UDP/LISP/IPv4/UDP frame', () => {
    const { random, calls } = recordingRandom();
    const { decision, frame } = route(QUERY, { priority: 'high', ctx: { random } });
    const d = decodeLispFrame(frame);

    expect(d.eth.header).toMatchObject({ dst: NEXT_HOP_MAC, src: ITR_MAC, etherType: 0x0800 });
    // Outer IPv4: ITR RLOC -> ETR RLOC, valid checksum, DF, id from random(16).
    expect(d.outerIp.header).toMatchObject({
      src: '192.168.0.1',
      dst: decision.endpoint,
      protocol: IPPROTO_UDP,
      checksumValid: true,
      dontFragment: true,
      identification: IP_ID,
      totalLength: frame.length - 14,
    });
    // Outer UDP: dst 4341, hashed src port, checksum zero.
    expect(d.outerUdp.header.dstPort).toBe(LISP_DATA_PORT);
    expect(d.outerUdp.header.srcPort).toBeGreaterThanOrEqual(49152);
    expect(d.outerUdp.header.srcPort).toBeLessThanOrEqual(65535);
    expect(d.outerUdp.header.checksum).toBe(0);
    // LISP: N, L, I set; nonce is what random(24) returned; IID from the context.
    expect(d.lisp.header.flagsByte).toBe(0xc8);
    expect(d.lisp.header.reserved).toBe(0);
    const nonceCall = calls.filter((c) => c.bits === 24);
    expect(nonceCall).toHaveLength(1);
    expect(d.lisp.header.nonce).toBe(nonceCall[0]!.value);
    expect(d.lisp.header.nonce).toBe(NONCE);
    expect(d.lisp.header.instanceId).toBe(INSTANCE_ID);
    expect(d.lisp.header.lsb).toBe(0b1);
    // Inner IPv4/UDP: source EID -> model EID, valid checksums.
    expect(d.innerIp.header).toMatchObject({
      src: '10.0.0.1',
      dst: '10.1.0.200',
      protocol: IPPROTO_UDP,
      checksumValid: true,
    });
    expect(d.innerUdp.header.dstPort).toBe(8080);
    expect(d.innerUdp.header.checksum).not.toBe(0);
    expect(udpChecksumValid(d.innerIp.payload, { src: '10.0.0.1', dst: '10.1.0.200' })).toBe(true);
    // Outer TTL and DSCP are copied from the inner header; DSCP AF41 for high.
    expect(d.outerIp.header.ttl).toBe(d.innerIp.header.ttl);
    expect(d.outerIp.header.dscp).toBe(d.innerIp.header.dscp);
    expect(d.innerIp.header.dscp).toBe(34);
    expect(d.json).toMatchObject({ query: QUERY, routing: { model_name: 'claude-3' } });
  });

  it.each([
    ['low', 8],
    ['medium', 18],
    ['high', 34],
  ] as const)('marks %s priority with DSCP %d on both headers', (priority, dscp) => {
    const d = decodeLispFrame(route(QUERY, { priority }).frame);
    expect(d.outerIp.header.dscp).toBe(dscp);
    expect(d.innerIp.header.dscp).toBe(dscp);
    expect(d.outerIp.header.ttl).toBe(64);
    expect(d.innerIp.header.ttl).toBe(64);
  });

  it('reports lisp_packet fields equal to the decoded bytes', () => {
    const { decision, frame } = route(QUERY, { ctx: { mappings: THREE_LOCATORS } });
    const d = decodeLispFrame(frame);
    const p = decision.lisp_packet;
    expect(p.packet_id).toBe('0000018f00000001');
    expect(p.timestamp).toBe(1_700_000_000.123456);
    expect(p.instance_id).toBe(INSTANCE_ID);
    expect(p.outer_header).toEqual({
      src_ip: d.outerIp.header.src,
      dst_ip: d.outerIp.header.dst,
      src_port: d.outerUdp.header.srcPort,
      dst_port: 4341,
      ttl: d.outerIp.header.ttl,
      dscp: d.outerIp.header.dscp,
      ip_id: IP_ID,
      ip_checksum: `0x${d.outerIp.header.checksum.toString(16).padStart(4, '0')}`,
      udp_checksum: 0,
    });
    expect(p.lisp_header).toEqual({
      flags: '0xc8',
      flag_names: 'N|L|I',
      nonce: NONCE,
      instance_id: INSTANCE_ID,
      lsb: 0b101,
    });
    expect(p.inner_header).toEqual({
      src_ip: '10.0.0.1',
      dst_ip: '10.4.0.101',
      src_port: d.innerUdp.header.srcPort,
      dst_port: d.innerUdp.header.dstPort,
      protocol: IPPROTO_UDP,
      ttl: 64,
      dscp: 18,
    });
    expect(p.metadata).toMatchObject({
      model_name: decision.selected_model,
      rloc: decision.endpoint,
      eid_prefix: '10.4.0.0/16',
      query_truncated: false,
      frame_size: frame.length,
    });
    expect(d.json.routing).toMatchObject({ packet_id: p.packet_id, rloc: p.outer_header.dst_ip });
  });

  it('uses the same outer source port for the same query and source (one flow)', () => {
    const a = decodeLispFrame(route(QUERY).frame);
    const b = decodeLispFrame(route(QUERY, { ctx: { random: () => 0 } }).frame);
    expect(b.outerUdp.header.srcPort).toBe(a.outerUdp.header.srcPort);
    expect(b.innerUdp.header.srcPort).toBe(a.innerUdp.header.srcPort);
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      ports.add(decodeLispFrame(route(`${QUERY} #${i}`).frame).outerUdp.header.srcPort);
    }
    expect(ports.size).toBeGreaterThan(1);
  });

  it('reflects source locator reachability in the LSBs and never sources from a down locator', () => {
    const sources = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const d = decodeLispFrame(
        route(`${QUERY} v${i}`, { ctx: { mappings: THREE_LOCATORS } }).frame,
      );
      expect(d.lisp.header.lsb).toBe(0b101);
      sources.add(d.outerIp.header.src);
    }
    expect(sources.has('198.51.100.2')).toBe(false);
    expect([...sources].sort()).toEqual(['198.51.100.1', '198.51.100.3']);
  });

  it('sets one LSB per reachable locator for a full set of eight', () => {
    const mappings = mappingsWith({
      source_locators: Array.from({ length: 8 }, (_, k) => ({
        rloc: `198.51.100.${k + 1}`,
        reachable: k % 3 !== 0,
      })),
    });
    const d = decodeLispFrame(route(QUERY, { ctx: { mappings } }).frame);
    // Members 0, 3 and 6 are down: bits 1, 2, 4, 5 and 7 are set.
    expect(d.lisp.header.lsb).toBe(0b1011_0110);
  });

  it('throws NoRouteError when no source locator is reachable', () => {
    const mappings = mappingsWith({
      source_locators: [{ rloc: '198.51.100.1', reachable: false }],
    });
    expect(() => route(QUERY, { ctx: { mappings } })).toThrow(NoRouteError);
  });
});
