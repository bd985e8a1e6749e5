import { createHash } from 'node:crypto';
import { ipv4ToUint32 } from '../../protocol/address.js';
import { IPPROTO_UDP } from '../../protocol/ip-protocols.js';
import type { Registrations } from './agent-locators.js';
import { PRIORITY_DSCP, type Priority, rankModels } from './catalogue.js';
import { encapsulate } from './encapsulate.js';
import { encapsulationSourcePort, flowHash } from './flow-hash.js';
import { type MapCacheHit, mapCacheFor, type Resolution, resolveEid } from './map-cache.js';
import type { Mappings } from './mappings.js';
import { type PacketRecord, summarizeFrame } from './packet-record.js';
import { type PathIndex, preferByPath } from './path-preference.js';
import { buildPayload } from './payload.js';
import { prefixContains } from './prefix.js';
import { classifyWorkload } from './workload.js';

export interface RouteRequest {
  query: string;
  sourceEid: string;
  priority: Priority;
}

export interface RouteContext {
  instanceId: number;
  mappings: Mappings;
  packetId: string;
  timestampUs: number;
  /** Uniform random integer in [0, 2^bits); crypto-backed in production. */
  random: (bits: number) => number;
  /** What agents registered and what expired, so the reasons can say why a prefix is (not) used. */
  registrations?: Registrations;
  /** Fresh Tango path measurements by peer RLOC; among equal-priority RLOCs they pick the best path. */
  paths?: PathIndex;
}

export interface RouteDecision {
  selected_model: string;
  endpoint: string;
  workload_type: string;
  confidence: number;
  reasons: string[];
  lisp_packet: PacketRecord;
}

/** No model or source locator can be reached right now. */
export class NoRouteError extends Error {
  override readonly name = 'NoRouteError';
}

const INNER_TTL = 64;

/** Classifies, picks a model, resolves its RLOC and builds the LISP packet. */
export function routeQuery(
  request: RouteRequest,
  ctx: RouteContext,
): { decision: RouteDecision; frame: Uint8Array } {
  const classification = classifyWorkload(request.query);
  const { ranked, reasons: rankReasons } = rankModels(
    ctx.mappings.models,
    classification.workload_type,
    request.priority,
  );
  const reasons = [...classification.reasons, ...rankReasons];
  const cache = mapCacheFor(ctx.instanceId, ctx.mappings.eid_prefixes);
  const queryHash = createHash('sha256').update(request.query).digest('hex').slice(0, 8);
  const innerSrcPort = 49152 + (Number.parseInt(queryHash.slice(0, 4), 16) % 16384);

  for (const { model, score } of ranked) {
    const tuple = {
      src: request.sourceEid,
      dst: model.eid,
      protocol: IPPROTO_UDP,
      srcPort: innerSrcPort,
      dstPort: model.service_port,
    };
    const hash = flowHash(tuple);
    const resolution = resolveEid(cache, ctx.instanceId, model.eid, hash, (tier) =>
      preferByPath(tier, classification.workload_type, ctx.paths),
    );
    reasons.push(...fallbackReasons(model.eid, resolution, ctx.registrations));
    const { hit, choice } = resolution;
    if (!hit || !choice) {
      reasons.push(`${model.name} skipped: no usable RLOC for EID ${model.eid}`);
      continue;
    }
    reasons.push(
      `${model.name} chosen (score ${score}); EID ${model.eid} matched ${hit.prefix.text}, RLOC ${choice.locator.rloc} by ${choice.reason}`,
    );
    const source = chooseSourceLocator(ctx.mappings, hash);
    const metadata = {
      packet_id: ctx.packetId,
      workload_type: classification.workload_type,
      model_name: model.name,
      priority: request.priority,
      query_hash: queryHash,
      eid_prefix: hit.prefix.text,
      rloc: choice.locator.rloc,
    };
    const payload = buildPayload(request.query, metadata);
    const frame = encapsulate({
      itrRloc: source.rloc,
      etrRloc: choice.locator.rloc,
      outerSrcPort: encapsulationSourcePort(hash),
      outerIpId: ctx.random(16),
      sourceEid: request.sourceEid,
      destEid: model.eid,
      innerSrcPort,
      innerDstPort: model.service_port,
      innerTtl: INNER_TTL,
      dscp: PRIORITY_DSCP[request.priority],
      nonce: ctx.random(24),
      instanceId: ctx.instanceId,
      lsb: source.lsb,
      payload: payload.bytes,
    });
    const record = summarizeFrame(frame, {
      packetId: ctx.packetId,
      timestampUs: ctx.timestampUs,
      metadata: {
        ...metadata,
        confidence: classification.confidence,
        payload_size: payload.bytes.length,
        frame_size: frame.length,
        query_truncated: payload.truncated,
        rloc_priority: choice.locator.priority,
        rloc_weight: choice.locator.weight,
        map_cache_ttl_minutes: hit.entry.ttl_minutes,
      },
    });
    return {
      decision: {
        selected_model: model.name,
        endpoint: choice.locator.rloc,
        workload_type: classification.workload_type,
        confidence: classification.confidence,
        reasons,
        lisp_packet: record,
      },
      frame,
    };
  }
  throw new NoRouteError(
    `no reachable model for workload ${classification.workload_type}: ${reasons.filter((r) => r.includes('skipped')).join('; ') || 'catalogue has no candidates'}`,
  );
}

/**
 * Why a more specific mapping of the EID was not used: an agent's
 * registration expired (withdrawn), or every locator of the entry is down.
 */
function fallbackReasons(
  eid: string,
  { hit, passedOver }: Resolution,
  registrations: Registrations | undefined,
): string[] {
  const learntFrom = (prefix: string) => registrations?.learnt.get(prefix);
  const label = (h: MapCacheHit) => {
    const agents = learntFrom(h.prefix.text);
    return agents ? `learnt ${h.prefix.text}` : `configured ${h.prefix.text}`;
  };
  const using = hit ? `using ${label(hit)}` : 'no covering entry left';
  const address = ipv4ToUint32(eid);
  const reasons: string[] = [];
  for (const { prefix, agents } of registrations?.withdrawn ?? []) {
    if (!prefixContains(prefix, address)) continue;
    if (hit && hit.prefix.length >= prefix.length) continue;
    const who = agents
      .map(
        (a) =>
          `agent ${a.agentId} withdrawn: no heartbeat for ${a.silentSec} s (hold ${a.holdSec} s)`,
      )
      .join(', ');
    reasons.push(`${prefix.text} learnt from ${who}; ${using}`);
  }
  for (const skipped of passedOver) {
    const agents = learntFrom(skipped.prefix.text);
    const origin = agents ? `learnt from agent ${agents.join(', ')}` : 'configured';
    reasons.push(`${skipped.prefix.text} ${origin} passed over: every locator is down; ${using}`);
  }
  return reasons;
}

/**
 * The ITR's own locator set: the outer source is a reachable member (chosen
 * by flow hash) and bit k of the LSBs says whether member k is up.
 */
function chooseSourceLocator(mappings: Mappings, hash: number): { rloc: string; lsb: number } {
  const up = mappings.source_locators.filter((l) => l.reachable);
  if (up.length === 0) throw new NoRouteError('no reachable source locator');
  const lsb = mappings.source_locators.reduce(
    (bits, l, k) => (l.reachable ? bits | (1 << k) : bits),
    0,
  );
  return { rloc: up[hash % up.length]!.rloc, lsb };
}
