import { describe, expect, it } from 'vitest';
import { visualizePacket } from '../../../functions/routing/visualize.js';
import { INSTANCE_ID, mappingsWith, NONCE, route } from './helpers.js';

describe('visualizePacket', () => {
  const mappings = mappingsWith({
    source_locators: [{ rloc: '198.51.100.1' }, { rloc: '198.51.100.2', reachable: false }],
  });
  const { decision, frame } = route('Write a Python function to calculate factorial', {
    ctx: { mappings },
  });
  const text = visualizePacket(frame, 'CAPTION-LINE');

  it('starts with the caption and draws boxed rows no wider than 72 columns', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe('CAPTION-LINE');
    for (const line of lines.filter((l) => l.startsWith('|') || l.startsWith('+'))) {
      expect(line).toHaveLength(72);
    }
  });

  it('shows the outer and inner addresses', () => {
    expect(decision.endpoint).toBe('127.0.0.1');
    expect(text).toContain('src=198.51.100.1');
    expect(text).toContain('dst=127.0.0.1');
    expect(text).toContain('src=10.0.0.1');
    expect(text).toContain('dst=10.4.0.101');
    expect(text).toContain('Outer IPv4 (ITR RLOC -> ETR RLOC)');
    expect(text).toContain('Inner IPv4 (source EID -> model EID)');
  });

  it('shows the LISP flags, nonce, instance id and LSBs', () => {
    expect(text).toContain('LISP data header (RFC 9300)');
    expect(text).toContain('flags=N|L|I');
    expect(text).toContain('flags_byte=0xc8');
    expect(text).toContain(`nonce=${NONCE}`);
    expect(text).toContain(`instance_id=${INSTANCE_ID}`);
    expect(text).toContain('lsb=1');
    expect(text).toContain('dst_port=4341');
  });

  it('prints the JSON payload text', () => {
    expect(text).toContain('Payload text:');
    expect(text).toContain('"query":"Write a Python function');
  });
});
