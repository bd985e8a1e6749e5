/**
 * The evidence custody log (`GET /evidence/custody`): pure helpers, no DOM (unit-tested). The
 * entry restates the API's; test/unit/web/api-mirror.test.ts checks the actions agree.
 */

export interface CustodyEntry {
  entry_id: string;
  at: string;
  action: 'segment_link' | 'window_link' | 'window_job';
  token_id: string;
  request_id: string;
  source_ip?: string;
  user_agent?: string;
  agent_ids: string[];
  segment_id?: string;
  window_id?: string;
  job_id?: string;
  since?: number;
  until?: number;
  segments?: number;
  bytes?: number;
  sha256?: string;
  link_expires_at?: string;
}

export interface CustodyPage {
  entries: CustodyEntry[];
  next_token: string | null;
}

export const CUSTODY_PAGE = 50;

export const ACTION_LABELS: Record<CustodyEntry['action'], string> = {
  segment_link: 'Segment link',
  window_link: 'Window link',
  window_job: 'Window job started',
};

/** What was handed out, in words: "segment 3f2a…e1", "window 5c1e… (3 segments)". */
export function describeEvidence(entry: CustodyEntry): string {
  const short = (hex: string) => (hex.length > 12 ? `${hex.slice(0, 12)}…` : hex);
  if (entry.segment_id) return `segment ${short(entry.segment_id)}`;
  const count =
    entry.segments !== undefined
      ? ` (${entry.segments} segment${entry.segments === 1 ? '' : 's'})`
      : '';
  if (entry.window_id) return `window ${short(entry.window_id)}${count}`;
  if (entry.job_id) return `job ${short(entry.job_id)}`;
  return '—';
}

/** The newest page, then older pages, each entry once (a refresh may repeat some). */
export function mergeEntries(
  newest: readonly CustodyEntry[],
  older: readonly CustodyEntry[],
): CustodyEntry[] {
  const seen = new Set<string>();
  return [...newest, ...older].filter((entry) => {
    if (seen.has(entry.entry_id)) return false;
    seen.add(entry.entry_id);
    return true;
  });
}
