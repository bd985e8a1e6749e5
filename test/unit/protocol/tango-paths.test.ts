import { describe, expect, it } from 'vitest';
import { decodeUplink } from '../../../functions/ingest/decode.js';
import {
  agentTopic,
  parseAgentTopic,
  UPLINK_CHANNELS,
  UPLINK_SCHEMAS,
} from '../../../protocol/agent-messages.js';
import { tangoPathsSchema } from '../../../protocol/tango-paths.js';
import { pathsMessage, tangoPath } from '../../helpers/tango-paths.js';

const decode = (value: unknown) =>
  decodeUplink(agentTopic('site-a', 'paths'), JSON.stringify(value));

const reasonFor = (value: unknown) => {
  const out = decode(value);
  return out.ok ? 'accepted' : out.reason;
};

describe('paths uplink message (Tango per-path measurements)', () => {
  it('is an uplink channel with its schema, so broker ACLs and the IoT policy include it', () => {
    expect(UPLINK_CHANNELS).toContain('paths');
    expect(UPLINK_SCHEMAS.paths).toBe(tangoPathsSchema);
    expect(parseAgentTopic('wirefleet/v1/agents/site-a/paths')).toEqual({
      agentId: 'site-a',
      channel: 'paths',
    });
  });

  it('decodes a valid message with the agent id from the topic', () => {
    const message = pathsMessage(1_767_300_000, [
      tangoPath(0),
      tangoPath(7, { rejects: { bad_signature: 3, replay: 1 } }),
    ]);
    const out = decode(message);
    expect(out).toMatchObject({ ok: true, agentId: 'site-a', channel: 'paths' });
    if (out.ok && out.channel === 'paths') expect(out.message).toEqual(message);
  });

  it('accepts no paths and a peer without an agent id', () => {
    expect(reasonFor(pathsMessage(1, [], { peer: {} }))).toBe('accepted');
  });

  it.each([
    ['path_id over 7', [tangoPath(8)], 'paths.0.path_id'],
    ['a path_id twice', [tangoPath(1), tangoPath(1)], 'path_id 1 appears twice'],
    ['an IPv4 tunnel address', [tangoPath(0, { local_address: '10.0.0.1' })], 'IPv6'],
    ['an IPv6 peer RLOC', [tangoPath(0, { peer_rloc: 'fd00::1' })], 'IPv4'],
    ['loss over 1', [tangoPath(0, { loss: 1.5 })], 'paths.0.loss'],
    ['negative reorder', [tangoPath(0, { reorder: -0.1 })], 'paths.0.reorder'],
    ['negative delay', [tangoPath(0, { delay_ms: -1 })], 'paths.0.delay_ms'],
    ['fractional packets', [tangoPath(0, { packets: 1.5 })], 'paths.0.packets'],
    [
      'a reject reason that is not a name',
      [tangoPath(0, { rejects: { 'Bad Sig': 1 } })],
      'rejects',
    ],
    ['nine paths', Array.from({ length: 9 }, (_, i) => tangoPath(i % 8)), 'paths'],
  ])('refuses %s', (_what, paths, where) => {
    const reason = reasonFor(pathsMessage(1, paths));
    expect(reason).toContain('invalid paths message');
    expect(reason).toContain(where);
  });

  it('refuses unknown keys (a forged tenant) rather than storing them', () => {
    expect(reasonFor({ ...pathsMessage(1), tenant: 'other' })).toContain('Unrecognized key');
    expect(reasonFor(pathsMessage(1, [{ ...tangoPath(0), tenant: 'x' } as never]))).toContain(
      'Unrecognized key',
    );
  });

  it('refuses a message without its schema name or interval', () => {
    const { schema: _schema, ...unnamed } = pathsMessage(1);
    expect(reasonFor(unnamed)).toContain('schema');
    expect(reasonFor(pathsMessage(1, undefined, { interval_s: 0 }))).toContain('interval_s');
  });
});
