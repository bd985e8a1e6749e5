import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../../protocol/errors.js';

describe('errors', () => {
  it('DecodeError carries layer, code and offset', () => {
    const e = new DecodeError('udp', 'truncated', 'short', 4);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('DecodeError');
    expect(e.layer).toBe('udp');
    expect(e.code).toBe('truncated');
    expect(e.offset).toBe(4);
    expect(e.message).toContain('short');
    expect(new DecodeError('x', 'invalid', 'm').offset).toBe(0);
  });

  it('EncodeError is a distinct Error subclass', () => {
    const e = new EncodeError('ipv4', 'ttl out of range');
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(DecodeError);
    expect(e.name).toBe('EncodeError');
    expect(e.message).toContain('ttl out of range');
  });
});
