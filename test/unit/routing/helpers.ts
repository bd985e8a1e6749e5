import type { Priority } from '../../../functions/routing/catalogue.js';
import {
  DEFAULT_MAPPINGS,
  type Mappings,
  type MappingsInput,
  mappingsSchema,
} from '../../../functions/routing/mappings.js';
import { type RouteContext, routeQuery } from '../../../functions/routing/router.js';
import { decodeEthernet } from '../../../protocol/ethernet.js';
import { decodeIPv4 } from '../../../protocol/ipv4.js';
import { decodeLispData } from '../../../protocol/lisp.js';
import { decodeUdp } from '../../../protocol/udp.js';

export const NONCE = 0xabcdef;
export const IP_ID = 0x1234;
export const INSTANCE_ID = 1001;

/** A deterministic `random`: a fixed value per bit width, with every call recorded. */
export function recordingRandom(values: Record<number, number> = { 16: IP_ID, 24: NONCE }) {
  const calls: { bits: number; value: number }[] = [];
  const random = (bits: number) => {
    const value = values[bits] ?? 0;
    calls.push({ bits, value });
    return value;
  };
  return { random, calls };
}

/** DEFAULT_MAPPINGS with some top-level fields replaced, validated like a stored document. */
export function mappingsWith(patch: Partial<MappingsInput>): Mappings {
  return mappingsSchema.parse({ ...structuredClone(DEFAULT_MAPPINGS), ...patch });
}

export function makeContext(overrides: Partial<RouteContext> = {}): RouteContext {
  return {
    instanceId: INSTANCE_ID,
    mappings: DEFAULT_MAPPINGS,
    packetId: '0000018f00000001',
    timestampUs: 1_700_000_000_123_456,
    random: recordingRandom().random,
    ...overrides,
  };
}

export function route(
  query: string,
  options: { priority?: Priority; sourceEid?: string; ctx?: Partial<RouteContext> } = {},
) {
  return routeQuery(
    { query, sourceEid: options.sourceEid ?? '10.0.0.1', priority: options.priority ?? 'medium' },
    makeContext(options.ctx),
  );
}

/** Every layer of an Ethernet/IPv4/UDP/LISP/IPv4/UDP frame, decoded with the protocol codecs. */
export function decodeLispFrame(frame: Uint8Array) {
  const eth = decodeEthernet(frame);
  const outerIp = decodeIPv4(eth.payload);
  const outerUdp = decodeUdp(outerIp.payload);
  const lisp = decodeLispData(outerUdp.payload);
  const innerIp = decodeIPv4(lisp.payload);
  const innerUdp = decodeUdp(innerIp.payload);
  return {
    eth,
    outerIp,
    outerUdp,
    lisp,
    innerIp,
    innerUdp,
    json: JSON.parse(new TextDecoder().decode(innerUdp.payload)) as Record<string, unknown>,
  };
}
