import { describe, expect, it } from 'vitest';
import { PRIORITIES as API_PRIORITIES } from '../../../functions/routing/catalogue.js';
import { WORKLOAD_TYPES as API_WORKLOADS } from '../../../functions/routing/workload.js';
import { CUSTODY_ACTIONS } from '../../../functions/store/evidence-custody.js';
import { COMMAND_ACTIONS as AGENT_ACTIONS } from '../../../protocol/agent-messages.js';
import { CIPHER_SUITES } from '../../../protocol/evidence/format.js';
import { PRIORITIES, WORKLOAD_TYPES } from '../../../web/src/api/types.js';
import { COMMAND_ACTIONS, EVIDENCE_CIPHERS } from '../../../web/src/pages/agents/agent-logic.js';
import { ACTION_LABELS } from '../../../web/src/pages/custody/custody-logic.js';

// web/ does not import functions/ (it is bundled for the browser), so it restates the API's
// vocabularies; this fails when the two drift apart.
describe('the console restates the API vocabularies exactly', () => {
  it('workload types, in the API order (its tie-break order)', () => {
    expect([...WORKLOAD_TYPES]).toEqual([...API_WORKLOADS]);
  });
  it('priorities', () => {
    expect([...PRIORITIES].sort()).toEqual([...API_PRIORITIES].sort());
  });
  it('the commands an agent carries out, every one offered', () => {
    expect(COMMAND_ACTIONS.map((a) => a.value).sort()).toEqual([...AGENT_ACTIONS].sort());
  });
  it('the evidence ciphers', () => {
    expect([...EVIDENCE_CIPHERS].sort()).toEqual([...CIPHER_SUITES].sort());
  });
  it('the custody log actions, every one labelled', () => {
    expect(Object.keys(ACTION_LABELS).sort()).toEqual([...CUSTODY_ACTIONS].sort());
  });
});
