import { describe, expect, it } from 'vitest';
import { dissectFrame, type Layer } from '../../../protocol/dissect.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, encodeEthernet } from '../../../protocol/ethernet.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../protocol/ip-protocols.js';
import { encodeIPv4 } from '../../../protocol/ipv4.js';
import { encodeIPv6 } from '../../../protocol/ipv6.js';
import { encodeLispData } from '../../../protocol/lisp.js';
import { LINKTYPE_RAW } from '../../../protocol/pcap.js';
import { encodeUdp } from '../../../protocol/udp.js';
import { checkTruncations, concat, expectDecodeError, fuzz } from './helpers.js';

const MACS = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
const body = new TextEncoder().encode('{"q":"hello"}');

function ip(src: string, dst: string, protocol: number, payload: Uint8Array): Uint8Array {
  return src.includes(':')
    ? encodeIPv6({ src, dst, nextHeader: protocol }, payload)
    : encodeIPv4({ src, dst, protocol, ttl: 32, dscp: 10 }, payload);
}

function lispFrame(outer: [string, string], inner: [string, string]): Uint8Array {
  const innerUdp = encodeUdp({ srcPort: 5000, dstPort: 8080 }, body, {
    checksum: 'compute',
    pseudo: { src: inner[0], dst: inner[1] },
  });
  const innerIp = ip(inner[0], inner[1], IPPROTO_UDP, innerUdp);
  const lisp = concat(encodeLispData({ nonce: 0xabcdef, instanceId: 1001 }), innerIp);
  const v6 = outer[0].includes(':');
  const outerUdp = encodeUdp(
    { srcPort: 50000, dstPort: 4341 },
    lisp,
    v6 ? { checksum: 'compute', pseudo: { src: outer[0], dst: outer[1] } } : { checksum: 'zero' },
  );
  const etherType = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  return encodeEthernet({ ...MACS, etherType }, ip(outer[0], outer[1], IPPROTO_UDP, outerUdp));
}

const names = (layers: Layer[]) => layers.map((l) => l.name);

describe('dissectFrame', () => {
  it('walks a LISP-encapsulated IPv4 frame', () => {
    const frame = lispFrame(['192.0.2.1', '192.0.2.2'], ['10.0.0.1', '10.1.0.9']);
    const { layers, payload } = dissectFrame(frame);
    expect(names(layers)).toEqual(['ethernet', 'ipv4', 'udp', 'lisp', 'ipv4', 'udp', 'payload']);
    expect(layers.map((l) => [l.offset, l.length])).toEqual([
      [0, 14],
      [14, 20],
      [34, 8],
      [42, 8],
      [50, 20],
      [70, 8],
      [78, body.length],
    ]);
    expect(layers[0]?.fields).toEqual({ ...MACS, ether_type: '0x0800' });
    expect(layers[1]?.fields).toMatchObject({
      src: '192.0.2.1',
      dst: '192.0.2.2',
      ttl: 32,
      dscp: 10,
      protocol: 17,
      checksum_valid: true,
    });
    expect(layers[1]?.fields.checksum).toMatch(/^0x[0-9a-f]{4}$/);
    expect(layers[2]?.fields).toMatchObject({
      src_port: 50000,
      dst_port: 4341,
      checksum: '0x0000',
      checksum_valid: true,
    });
    expect(layers[3]?.fields).toEqual({
      flags: 'N|I',
      flags_byte: '0x88',
      reserved: 0,
      nonce: 0xabcdef,
      instance_id: 1001,
    });
    expect(layers[5]?.fields).toMatchObject({
      src_port: 5000,
      dst_port: 8080,
      length: 8 + body.length,
      checksum_valid: true,
    });
    expect(new TextDecoder().decode(payload)).toBe('{"q":"hello"}');
    expect(payload.byteOffset - frame.byteOffset).toBe(78);
  });

  it('handles IPv6 outer and inner headers and reports lsb', () => {
    const frame = lispFrame(['2001:db8::1', '2001:db8::2'], ['fd00::1', 'fd00::2']);
    const { layers } = dissectFrame(frame);
    expect(names(layers)).toEqual(['ethernet', 'ipv6', 'udp', 'lisp', 'ipv6', 'udp', 'payload']);
    expect(layers[1]?.fields).toMatchObject({ src: '2001:db8::1', next_header: 17, hop_limit: 64 });
    expect(layers[2]?.fields.checksum_valid).toBe(true);
    expect(layers[5]?.offset).toBe(14 + 40 + 8 + 8 + 40);
    const mixed = dissectFrame(
      lispFrame(['192.0.2.1', '192.0.2.2'], ['fd00::1', 'fd00::2']),
    ).layers;
    expect(names(mixed)).toEqual(['ethernet', 'ipv4', 'udp', 'lisp', 'ipv6', 'udp', 'payload']);
  });

  it('stops cleanly at protocols it does not know', () => {
    const arp = encodeEthernet({ ...MACS, etherType: 0x0806 }, new Uint8Array(28));
    expect(names(dissectFrame(arp).layers)).toEqual(['ethernet', 'payload']);
    const tcp = encodeEthernet(
      { ...MACS, etherType: ETHERTYPE_IPV4 },
      ip('1.1.1.1', '2.2.2.2', IPPROTO_TCP, new Uint8Array(20)),
    );
    const t = dissectFrame(tcp);
    expect(names(t.layers)).toEqual(['ethernet', 'ipv4', 'payload']);
    expect(t.payload.length).toBe(20);
    const dns = encodeUdp({ srcPort: 1, dstPort: 53 }, Uint8Array.of(1), { checksum: 'zero' });
    const d = encodeEthernet(
      { ...MACS, etherType: ETHERTYPE_IPV4 },
      ip('1.1.1.1', '2.2.2.2', IPPROTO_UDP, dns),
    );
    expect(names(dissectFrame(d).layers)).toEqual(['ethernet', 'ipv4', 'udp', 'payload']);
    const notIp = concat(encodeLispData({}), Uint8Array.of(0x10, 0));
    const l = encodeUdp({ srcPort: 1, dstPort: 4341 }, notIp, { checksum: 'zero' });
    const lf = encodeEthernet(
      { ...MACS, etherType: ETHERTYPE_IPV4 },
      ip('1.1.1.1', '2.2.2.2', IPPROTO_UDP, l),
    );
    expect(names(dissectFrame(lf).layers)).toEqual(['ethernet', 'ipv4', 'udp', 'lisp', 'payload']);
    const frag = encodeIPv4(
      { src: '1.1.1.1', dst: '2.2.2.2', protocol: IPPROTO_UDP, moreFragments: true },
      Uint8Array.of(0, 1, 0, 2, 0xff, 0xff, 0, 0),
    );
    expect(
      names(dissectFrame(encodeEthernet({ ...MACS, etherType: ETHERTYPE_IPV4 }, frag)).layers),
    ).toEqual(['ethernet', 'ipv4', 'payload']);
    const empty = encodeEthernet({ ...MACS, etherType: 0x88cc }, new Uint8Array(0));
    expect(dissectFrame(empty)).toMatchObject({
      layers: [{ name: 'ethernet' }],
      payload: new Uint8Array(0),
    });
  });

  it('reports VLAN ids and decodes raw IP link type', () => {
    const tagged = encodeEthernet(
      { ...MACS, vlans: [{ vid: 10 }, { vid: 20 }], etherType: 0x0806 },
      new Uint8Array(0),
    );
    expect(dissectFrame(tagged).layers[0]?.fields.vlan_ids).toBe('10,20');
    const raw = ip('1.1.1.1', '2.2.2.2', IPPROTO_TCP, new Uint8Array(4));
    expect(names(dissectFrame(raw, LINKTYPE_RAW).layers)).toEqual(['ipv4', 'payload']);
    expectDecodeError(() => dissectFrame(raw, 113), 'unsupported');
  });

  it('throws DecodeError on inconsistent headers', () => {
    const wrongVersion = encodeEthernet(
      { ...MACS, etherType: ETHERTYPE_IPV4 },
      ip('::1', '::2', 6, new Uint8Array(0)),
    );
    expectDecodeError(() => dissectFrame(wrongVersion), 'invalid');
    const bad = lispFrame(['192.0.2.1', '192.0.2.2'], ['10.0.0.1', '10.1.0.9']);
    bad[42] = 0x90; // N and V
    expectDecodeError(() => dissectFrame(bad), 'invalid');
  });

  it('only ever throws DecodeError on truncation and fuzz', () => {
    for (const frame of [
      lispFrame(['192.0.2.1', '192.0.2.2'], ['10.0.0.1', '10.1.0.9']),
      lispFrame(['2001:db8::1', '2001:db8::2'], ['10.0.0.1', '10.1.0.9']),
    ]) {
      checkTruncations(frame, dissectFrame);
      expect(fuzz(13, frame, dissectFrame).ok).toBeGreaterThan(0);
    }
  });
});
