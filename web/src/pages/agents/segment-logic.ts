/**
 * Evidence segments on the agent page (issue 11): pure helpers for the segments table and the
 * window download form. No DOM here (unit-tested in node).
 */

import type { JobState } from '../../api/types.js';

/** A recorded segment as `GET /agents/{id}/segments` lists it (times in epoch seconds). */
export interface SegmentView {
  segment_id: string;
  agent_id: string;
  seq: number;
  started_at: number;
  ended_at: number;
  packets: number;
  bytes: number;
  sha256: string;
  cipher: string;
  key_id: string;
  recorded_at: string;
  retained_until: number;
}

export interface SegmentPage {
  segments: SegmentView[];
  next_token: string | null;
}

/** `GET /segments/download`'s answer: one link to the assembled window and its signed manifest. */
export interface WindowDownloadView {
  url: string;
  manifest_url: string;
  expires_at: string;
  bytes: number;
  segments: number;
  manifest: {
    window_id: string;
    since: number;
    until: number;
    missing_seqs: Record<string, number[]>;
  } & Record<string, unknown>;
  signature: Record<string, unknown>;
}

/** A window too large to assemble in one request: a job, and its state once done. */
export interface WindowJobView extends JobState {
  job_id: string;
  url?: string;
  manifest_url?: string;
  expires_at?: string;
  bytes?: number;
  segments?: number;
  missing_seqs?: number;
}

/** The missing-sequence line for a window job: the count; the manifest lists them. */
export function describeMissingCount(count: number | undefined): string | undefined {
  if (!count) return undefined;
  return `${count} sequence number${count === 1 ? '' : 's'} (listed in the manifest)`;
}

export const SEGMENTS_PAGE = 50;

/** First characters of a hex digest or key id; the full value goes in a title. */
export function shortHex(hex: string, length = 12): string {
  return hex.length > length ? `${hex.slice(0, length)}…` : hex;
}

/** Pages appended in order, a segment listed twice (a refresh between pages) kept once. */
export function mergeSegments(...pages: readonly SegmentView[][]): SegmentView[] {
  const seen = new Set<string>();
  const merged: SegmentView[] = [];
  for (const segment of pages.flat()) {
    if (seen.has(segment.segment_id)) continue;
    seen.add(segment.segment_id);
    merged.push(segment);
  }
  return merged;
}

/** The time the listed segments span, in ms, widened to whole minutes (what the form can show). */
export function listedRange(
  segments: readonly SegmentView[],
): { since: number; until: number } | undefined {
  if (segments.length === 0) return undefined;
  const minute = 60_000;
  const first = Math.min(...segments.map((s) => s.started_at)) * 1000;
  const last = Math.max(...segments.map((s) => s.ended_at)) * 1000;
  return {
    since: Math.floor(first / minute) * minute,
    until: Math.ceil(last / minute) * minute,
  };
}

/** `<input type="datetime-local">` speaks local time without a zone: "2026-01-05T10:00". */
export function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

export type WindowQueryResult =
  | { query: { agent_id: string; since: number; until: number } }
  | { errors: { since?: string; until?: string } };

/**
 * The form's local times → the API's query (epoch seconds: since rounded down, until up, so
 * the window holds what the form shows). Both ends are required, as the API requires them.
 */
export function windowQuery(
  agentId: string,
  sinceInput: string,
  untilInput: string,
): WindowQueryResult {
  const since = fromLocalInput(sinceInput);
  const until = fromLocalInput(untilInput);
  const errors: { since?: string; until?: string } = {};
  if (since === undefined) errors.since = 'Enter the start of the window';
  if (until === undefined) errors.until = 'Enter the end of the window';
  if (since !== undefined && until !== undefined && since > until) {
    errors.since = 'The start must not be after the end';
  }
  if (since === undefined || until === undefined || errors.since || errors.until) return { errors };
  return {
    query: {
      agent_id: agentId,
      since: Math.floor(since / 1000),
      until: Math.ceil(until / 1000),
    },
  };
}

/** The name the API gives a segment's object (`segment-<id>.wfe`). */
export const segmentFilename = (segmentId: string) => `segment-${segmentId}.wfe`;

/** Beside the window object `window-<id>.wfe`, as the API names its manifest. */
export const manifestFilename = (windowId: string) => `window-${windowId}.manifest.json`;

/** What `wirefleet pcap decrypt --manifest FILE` reads: the manifest and its signature. */
export function manifestFileText(window: Pick<WindowDownloadView, 'manifest' | 'signature'>) {
  return `${JSON.stringify({ manifest: window.manifest, signature: window.signature }, null, 2)}\n`;
}

/** Gaps the cloud has no record of, per agent ("local-agent: 4, 5"), or undefined when none. */
export function describeMissing(missing: Record<string, number[]>): string | undefined {
  const parts = Object.entries(missing)
    .filter(([, seqs]) => seqs.length > 0)
    .map(([agent, seqs]) => `${agent}: ${seqs.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}
