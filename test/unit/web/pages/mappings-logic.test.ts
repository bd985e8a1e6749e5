import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAPPINGS,
  describeIssues,
  mappingsSchema,
} from '../../../../functions/routing/mappings.js';
import {
  describePath,
  fromForm,
  isDirty,
  type MappingsDocument,
  type MappingsForm,
  newLocator,
  parseApiIssues,
  placeIssues,
  toForm,
} from '../../../../web/src/pages/mappings/mappings-logic.js';

const defaults = DEFAULT_MAPPINGS as MappingsDocument;

/** The API's own 400 message for a document (functions/api/validate.ts parseWith). */
function apiMessage(doc: unknown): string {
  const result = mappingsSchema.safeParse(doc);
  if (result.success) throw new Error('the document is valid');
  return describeIssues(result.error);
}

function edit(change: (form: MappingsForm) => void): { form: MappingsForm; doc: unknown } {
  const form = toForm(defaults);
  change(form);
  const built = fromForm(form);
  if (!built.ok) throw new Error(`form did not build: ${JSON.stringify(built.errors)}`);
  return { form, doc: built.document };
}

describe('mappings form', () => {
  it('gives back the document it was made from, which the API accepts', () => {
    const built = fromForm(toForm(defaults));
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.document).toEqual(defaults);
    expect(mappingsSchema.safeParse(built.document).success).toBe(true);
  });

  it('is dirty only after a real change', () => {
    const form = toForm(defaults);
    expect(isDirty(form, defaults)).toBe(false);
    form.models[0]!.latency_ms = '1200.0';
    expect(isDirty(form, defaults)).toBe(false);
    form.models[0]!.latency_ms = '900';
    expect(isDirty(form, defaults)).toBe(true);
  });

  it('names a number field that holds no number, and sends nothing', () => {
    const form = toForm(defaults);
    form.models[1]!.quality = 'high';
    form.eid_prefixes[0]!.locators[1]!.weight = '';
    const built = fromForm(form);
    expect(built).toEqual({
      ok: false,
      errors: {
        'models.1.quality': 'must be a number',
        'eid_prefixes.0.locators.1.weight': 'must be a number',
      },
    });
  });
});

describe("the API's validation message, placed beside the fields", () => {
  it('splits the real message into one issue per path', () => {
    const { doc } = edit((form) => {
      form.models[2]!.eid = '10.9.0.1';
      form.eid_prefixes[3]!.prefix = '10.2.0.0/33';
      form.eid_prefixes[4]!.locators[0]!.priority = '300';
    });
    const issues = parseApiIssues(apiMessage(doc));
    expect(issues.map((i) => i.path).sort()).toEqual([
      'eid_prefixes.3.prefix',
      'eid_prefixes.4.locators.0.priority',
      'models.2.eid',
    ]);
    const eid = issues.find((i) => i.path === 'models.2.eid')!;
    expect(eid.message).toBe('EID 10.9.0.1 is not covered by any eid_prefixes entry');
  });

  it('keeps a message whole when the text the user typed holds "; "', () => {
    const { doc } = edit((form) => {
      form.eid_prefixes[0]!.prefix = '10.0.0.0/8; 10.1.0.0/16';
    });
    const message = apiMessage(doc);
    const issues = parseApiIssues(message);
    const prefix = issues.find((i) => i.path === 'eid_prefixes.0.prefix');
    expect(prefix?.message).toContain('10.0.0.0/8; 10.1.0.0/16');
  });

  it('places each issue at its field, or the nearest thing the page shows', () => {
    const { form, doc } = edit((f) => {
      f.models[0]!.eid = 'not-an-ip';
      f.source_locators[0]!.rloc = '300.1.1.1';
    });
    (doc as { models: { strengths: string[] }[] }).models[1]!.strengths.push('poetry');
    const placed = placeIssues(parseApiIssues(apiMessage(doc)), form);
    expect(Object.keys(placed.byPath).sort()).toEqual([
      'models.0.eid',
      'models.1.strengths',
      'source_locators.0.rloc',
    ]);
    expect(placed.byPath['source_locators.0.rloc']).toMatch(/IPv4/);
    expect(placed.general).toEqual([]);
  });

  it('puts a list-level issue on the list and an unknown one in the summary', () => {
    const form = toForm(defaults);
    const placed = placeIssues(
      [
        { path: 'source_locators', message: 'Too big: expected array to have <=8 items' },
        { path: 'eid_prefixes.0.locators', message: 'Too big' },
        { path: '', message: 'Unrecognized key: "extra"' },
        { path: 'models.9.name', message: 'gone' },
      ],
      form,
    );
    expect(placed.byPath).toEqual({
      source_locators: 'Too big: expected array to have <=8 items',
      'eid_prefixes.0.locators': 'Too big',
      // models.9 is not on the page: the Models list takes it.
      models: 'gone',
    });
    expect(placed.general).toEqual([{ path: '', message: 'Unrecognized key: "extra"' }]);
  });

  it('takes a message with no path as one general issue', () => {
    expect(parseApiIssues('the request body is not valid JSON')).toEqual([
      { path: '', message: 'the request body is not valid JSON' },
    ]);
  });

  it('describes paths in words for the summary', () => {
    const form = toForm(defaults);
    form.eid_prefixes[2]!.locators.push(newLocator());
    expect(describePath('models.1.eid', form)).toBe('Model 2 (claude-3) › EID');
    expect(describePath('eid_prefixes.2.locators.1.priority', form)).toBe(
      'EID prefix 3 (10.1.0.200/32) › locator 2 › priority',
    );
    expect(describePath('source_locators', form)).toBe('Source locators');
  });
});
