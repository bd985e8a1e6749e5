/**
 * The Mappings page's data logic: the document GET/PUT /mappings exchange,
 * the editable form (numbers kept as typed), and the API's validation
 * message turned into errors placed beside the fields they name. Pure (no
 * DOM, no React): unit-tested in node (test/unit/web/pages/mappings-logic.test.ts).
 */

import type { MappingsDocument, WorkloadType } from '../../api/mappings.js';

export * from '../../api/mappings.js';

/** A row's identity for React while it is edited (never sent). */
interface Keyed {
  key: string;
}

/** Numbers stay as typed until the save, so a half-typed value is not lost or coerced. */
export interface ModelForm extends Keyed {
  name: string;
  eid: string;
  locality: 'local' | 'cloud';
  strengths: WorkloadType[];
  quality: string;
  latency_ms: string;
  cost: string;
  service_port: string;
  enabled: boolean;
}

export interface LocatorForm extends Keyed {
  rloc: string;
  priority: string;
  weight: string;
  reachable: boolean;
}

export interface EidPrefixForm extends Keyed {
  prefix: string;
  description: string;
  ttl_minutes: string;
  locators: LocatorForm[];
}

export interface SourceLocatorForm extends Keyed {
  rloc: string;
  reachable: boolean;
}

export interface MappingsForm {
  models: ModelForm[];
  eid_prefixes: EidPrefixForm[];
  source_locators: SourceLocatorForm[];
}

let keySequence = 0;
export const newKey = () => `row-${++keySequence}`;

export function newModel(): ModelForm {
  return {
    key: newKey(),
    name: '',
    eid: '',
    locality: 'cloud',
    strengths: ['general'],
    quality: '5',
    latency_ms: '500',
    cost: '0',
    service_port: '8080',
    enabled: true,
  };
}

export function newLocator(): LocatorForm {
  return { key: newKey(), rloc: '', priority: '1', weight: '100', reachable: true };
}

export function newPrefix(): EidPrefixForm {
  return {
    key: newKey(),
    prefix: '',
    description: '',
    ttl_minutes: '1440',
    locators: [newLocator()],
  };
}

export function newSourceLocator(): SourceLocatorForm {
  return { key: newKey(), rloc: '', reachable: true };
}

export function toForm(doc: MappingsDocument): MappingsForm {
  return {
    models: doc.models.map((m) => ({
      key: newKey(),
      name: m.name,
      eid: m.eid,
      locality: m.locality,
      strengths: [...m.strengths],
      quality: String(m.quality),
      latency_ms: String(m.latency_ms),
      cost: String(m.cost),
      service_port: String(m.service_port),
      enabled: m.enabled,
    })),
    eid_prefixes: doc.eid_prefixes.map((p) => ({
      key: newKey(),
      prefix: p.prefix,
      description: p.description,
      ttl_minutes: String(p.ttl_minutes),
      locators: p.locators.map((l) => ({
        key: newKey(),
        rloc: l.rloc,
        priority: String(l.priority),
        weight: String(l.weight),
        reachable: l.reachable,
      })),
    })),
    source_locators: doc.source_locators.map((s) => ({
      key: newKey(),
      rloc: s.rloc,
      reachable: s.reachable,
    })),
  };
}

/** Field errors by dotted path (`eid_prefixes.2.locators.0.priority`), as the API names them. */
export type FieldErrors = Record<string, string>;

export type FormBuild =
  | { ok: true; document: MappingsDocument }
  | { ok: false; errors: FieldErrors };

/**
 * The document to PUT. Only what JSON cannot carry is checked here (a number
 * field that holds no number); ranges, addresses, prefixes and coverage are
 * the API's to judge, and its answer is placed beside the fields.
 */
export function fromForm(form: MappingsForm): FormBuild {
  const errors: FieldErrors = {};
  const num = (text: string, path: string): number => {
    const trimmed = text.trim();
    const value = Number(trimmed);
    if (trimmed === '' || !Number.isFinite(value)) {
      errors[path] = 'must be a number';
      return Number.NaN;
    }
    return value;
  };
  const document: MappingsDocument = {
    models: form.models.map((m, i) => ({
      name: m.name.trim(),
      eid: m.eid.trim(),
      locality: m.locality,
      strengths: [...new Set(m.strengths)],
      quality: num(m.quality, `models.${i}.quality`),
      latency_ms: num(m.latency_ms, `models.${i}.latency_ms`),
      cost: num(m.cost, `models.${i}.cost`),
      service_port: num(m.service_port, `models.${i}.service_port`),
      enabled: m.enabled,
    })),
    eid_prefixes: form.eid_prefixes.map((p, i) => ({
      prefix: p.prefix.trim(),
      description: p.description,
      ttl_minutes: num(p.ttl_minutes, `eid_prefixes.${i}.ttl_minutes`),
      locators: p.locators.map((l, j) => ({
        rloc: l.rloc.trim(),
        priority: num(l.priority, `eid_prefixes.${i}.locators.${j}.priority`),
        weight: num(l.weight, `eid_prefixes.${i}.locators.${j}.weight`),
        reachable: l.reachable,
      })),
    })),
    source_locators: form.source_locators.map((s) => ({
      rloc: s.rloc.trim(),
      reachable: s.reachable,
    })),
  };
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, document };
}

/** Whether the form differs from the document it was loaded from (a number typed as "8080.0" still equals 8080). */
export function isDirty(form: MappingsForm, saved: MappingsDocument): boolean {
  const built = fromForm(form);
  if (!built.ok) return true;
  return JSON.stringify(built.document) !== JSON.stringify(normalise(saved));
}

/** The saved document in the order fromForm writes it, for comparison. */
function normalise(doc: MappingsDocument): MappingsDocument {
  const form = toForm(doc);
  const built = fromForm(form);
  return built.ok ? built.document : doc;
}

const ROOTS = ['models', 'eid_prefixes', 'source_locators'] as const;
/** One issue's start in the API's message: "models.0.eid: ", "source_locators: ". */
const ISSUE_START = new RegExp(`(?:^|; )((?:${ROOTS.join('|')})(?:\\.[\\w]+)*): `, 'g');

export interface ApiIssue {
  /** Dotted path, '' for the document as a whole. */
  path: string;
  message: string;
}

/**
 * The API's 400 message ("models.0.eid: must be a dotted-quad IPv4 address;
 * eid_prefixes.2.prefix: ...", functions/routing/mappings.ts describeIssues)
 * as issues. A new issue starts only where "; " is followed by a path of the
 * document, so a message holding "; " (in a prefix the user typed) stays whole.
 */
export function parseApiIssues(message: string): ApiIssue[] {
  const starts = [...message.matchAll(ISSUE_START)];
  if (starts.length === 0) return [{ path: '', message }];
  const issues: ApiIssue[] = [];
  const lead = message.slice(0, starts[0]!.index).trim();
  if (lead) issues.push({ path: '', message: lead });
  starts.forEach((match, i) => {
    const textStart = match.index + match[0].length;
    const end = i + 1 < starts.length ? starts[i + 1]!.index : message.length;
    issues.push({ path: match[1]!, message: message.slice(textStart, end).trim() });
  });
  return issues;
}

/** Every path the page shows an error line for: fields, entries, lists. */
export function errorTargets(form: MappingsForm): Set<string> {
  const paths = new Set<string>(ROOTS);
  form.models.forEach((_, i) => {
    const base = `models.${i}`;
    paths.add(base);
    for (const field of [
      'name',
      'eid',
      'locality',
      'strengths',
      'quality',
      'latency_ms',
      'cost',
      'service_port',
      'enabled',
    ]) {
      paths.add(`${base}.${field}`);
    }
  });
  form.eid_prefixes.forEach((prefix, i) => {
    const base = `eid_prefixes.${i}`;
    for (const field of ['', '.prefix', '.description', '.ttl_minutes', '.locators']) {
      paths.add(`${base}${field}`);
    }
    prefix.locators.forEach((_, j) => {
      const loc = `${base}.locators.${j}`;
      for (const field of ['', '.rloc', '.priority', '.weight', '.reachable']) {
        paths.add(`${loc}${field}`);
      }
    });
  });
  form.source_locators.forEach((_, i) => {
    for (const field of ['', '.rloc', '.reachable']) paths.add(`source_locators.${i}${field}`);
  });
  return paths;
}

export interface PlacedErrors {
  /** Shown beside the field (or entry, or list) at that path. */
  byPath: FieldErrors;
  /** In the summary only: the document as a whole, or a path the page has no place for. */
  general: ApiIssue[];
}

/**
 * Places each issue at its path, or at the nearest ancestor the page shows
 * (`models.1.strengths.3` → the strengths boxes of model 2). Two issues at
 * one place are joined.
 */
export function placeIssues(issues: readonly ApiIssue[], form: MappingsForm): PlacedErrors {
  const targets = errorTargets(form);
  const byPath: FieldErrors = {};
  const general: ApiIssue[] = [];
  for (const issue of issues) {
    const parts = issue.path ? issue.path.split('.') : [];
    let target: string | undefined;
    for (let n = parts.length; n > 0 && target === undefined; n--) {
      const candidate = parts.slice(0, n).join('.');
      if (targets.has(candidate)) target = candidate;
    }
    if (target === undefined) {
      general.push(issue);
      continue;
    }
    byPath[target] = byPath[target] ? `${byPath[target]}; ${issue.message}` : issue.message;
  }
  return { byPath, general };
}

/** "models.2.eid" → "Model 3 (claude-3) › EID", for the error summary. */
export function describePath(path: string, form: MappingsForm): string {
  const parts = path.split('.');
  const labels: Record<string, string> = {
    name: 'name',
    eid: 'EID',
    locality: 'locality',
    strengths: 'strengths',
    quality: 'quality',
    latency_ms: 'latency (ms)',
    cost: 'cost',
    service_port: 'service port',
    enabled: 'enabled',
    prefix: 'prefix',
    description: 'description',
    ttl_minutes: 'TTL (minutes)',
    rloc: 'RLOC',
    priority: 'priority',
    weight: 'weight',
    reachable: 'reachable',
  };
  const out: string[] = [];
  const [root, index, ...rest] = parts;
  const i = Number(index);
  if (root === 'models') {
    out.push('Models');
    if (index !== undefined) {
      const name = form.models[i]?.name;
      out[0] = `Model ${i + 1}${name ? ` (${name})` : ''}`;
    }
  } else if (root === 'eid_prefixes') {
    out.push('EID prefixes');
    if (index !== undefined) {
      const prefix = form.eid_prefixes[i]?.prefix;
      out[0] = `EID prefix ${i + 1}${prefix ? ` (${prefix})` : ''}`;
    }
  } else if (root === 'source_locators') {
    out.push('Source locators');
    if (index !== undefined) out[0] = `Source locator ${i + 1}`;
  } else {
    return path || 'Mappings';
  }
  for (let k = 0; k < rest.length; k++) {
    const part = rest[k]!;
    if (part === 'locators') {
      const j = rest[k + 1];
      if (j !== undefined && /^\d+$/.test(j)) {
        out.push(`locator ${Number(j) + 1}`);
        k++;
      } else out.push('locators');
    } else out.push(labels[part] ?? part);
  }
  return out.join(' › ');
}
