/** Why a decoder refused its input: too short, self-contradictory, or valid but not handled by us. */
export type DecodeErrorCode = 'truncated' | 'invalid' | 'unsupported';

/** The only error decoders may throw; `offset` is relative to the buffer handed to that decoder. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code: DecodeErrorCode;
  readonly layer: string;
  readonly offset: number;

  constructor(layer: string, code: DecodeErrorCode, message: string, offset = 0) {
    super(`${layer}: ${message}`);
    this.code = code;
    this.layer = layer;
    this.offset = offset;
  }
}

/** Thrown by encoders for field values that cannot be represented on the wire. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  readonly layer: string;

  constructor(layer: string, message: string) {
    super(`${layer}: ${message}`);
    this.layer = layer;
  }
}
