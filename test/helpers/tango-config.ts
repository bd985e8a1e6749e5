import { SITE1_PREFIX, SITE2_PREFIX, type SimulatedTopology } from '../../agent/tango/simulate.js';

/**
 * The agent config's `tango` section for one side of a simulate topology (as the file holds it,
 * before parsing): that side's paths with their tunnel addresses and the peer's MAC as next hop,
 * routes to the other site, 200 ms intervals and 1 s reports; `extra` adds or overrides fields.
 */
export function tangoSectionFor(
  topology: SimulatedTopology,
  side: 0 | 1,
  secretFile: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const [self, peer] =
    side === 0 ? (['tango1', 'tango2'] as const) : (['tango2', 'tango1'] as const);
  return {
    enabled: true,
    side,
    secret_file: secretFile,
    tun: 'tango0',
    routes: [side === 0 ? SITE2_PREFIX : SITE1_PREFIX],
    interval_ms: 200,
    report_interval_sec: 1,
    paths: topology.paths.map((p) => ({
      path_id: p.pathId,
      interface: p.interface,
      local_address: p[`${self}Address`],
      peer_address: p[`${peer}Address`],
      next_hop_mac: p[`${peer}Mac`],
      peer_rloc: `192.0.2.${p.pathId + 10}`,
    })),
    ...extra,
  };
}
