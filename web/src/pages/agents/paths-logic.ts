/**
 * Tango paths on the agent page (issue 12): the shape `GET /agents/{id}/paths` answers and pure
 * helpers for the paths table. No DOM here (unit-tested in node).
 */

/** One measured path, as the API lists it (fractions for loss and reorder). */
export interface PathView {
  path_id: number;
  local_address: string;
  peer_address: string;
  peer_rloc: string;
  delay_ms: number;
  jitter_ms: number;
  loss: number;
  reorder: number;
  packets: number;
  throughput_bps: number;
  rejects?: Record<string, number>;
  age_s: number;
  stale: boolean;
}

/** The agent's latest paths report; everything but agent_id and paths is null before the first. */
export interface AgentPathsView {
  agent_id: string;
  peer: { agent_id?: string; name?: string } | null;
  sent_at: number | null;
  received_at: number | null;
  interval_s: number | null;
  age_s: number | null;
  stale: boolean | null;
  paths: PathView[];
}

/** 12.4 → "12.4 ms", 0.04 → "0.04 ms", 1234.5 → "1,235 ms". */
export function formatMs(ms: number, locale?: string): string {
  if (!Number.isFinite(ms)) return '–';
  const digits = ms < 1 ? 2 : ms < 100 ? 1 : 0;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(ms)} ms`;
}

/** A fraction as a percentage: 0.05 → "5 %", 0.00012 → "0.012 %", 0 → "0 %". */
export function formatFraction(fraction: number, locale?: string): string {
  if (!Number.isFinite(fraction)) return '–';
  const percent = fraction * 100;
  const digits = percent === 0 || percent >= 10 ? 0 : percent >= 1 ? 1 : percent >= 0.1 ? 2 : 3;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(percent)} %`;
}

/** Total frames refused on the path, and the reasons by count ("bad_signature 3, replay 1"). */
export function describeRejects(rejects: Record<string, number> | undefined): {
  total: number;
  text: string;
} {
  const entries = Object.entries(rejects ?? {})
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  return {
    total: entries.reduce((sum, [, n]) => sum + n, 0),
    text: entries.map(([reason, n]) => `${reason} ${n}`).join(', '),
  };
}

/** "site B (site-b)", "site-b", "site B", or undefined when the report does not say. */
export function describePeer(peer: AgentPathsView['peer']): string | undefined {
  if (!peer) return undefined;
  if (peer.name && peer.agent_id) return `${peer.name} (${peer.agent_id})`;
  return peer.name ?? peer.agent_id;
}

/** Why a report is stale, for the badge's title. */
export function staleMeaning(intervalS: number): string {
  return `No report for more than 3 intervals of ${intervalS} s: routing ignores these paths`;
}
