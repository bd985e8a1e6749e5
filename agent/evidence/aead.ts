import {
  type CipherChaCha20Poly1305,
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import { type CipherSpec, TAG_LENGTH } from '../../protocol/evidence/format.js';

// Node's typings pick an overload per literal algorithm name; these narrow the spec's union.
// Tags are always 16 bytes, set explicitly (never inferred from the tag handed to the decipher).

export function aeadCipher(
  spec: CipherSpec,
  key: Uint8Array,
  nonce: Uint8Array,
): CipherGCM | CipherChaCha20Poly1305 {
  const options = { authTagLength: TAG_LENGTH };
  return spec.algorithm === 'chacha20-poly1305'
    ? createCipheriv(spec.algorithm, key, nonce, options)
    : createCipheriv(spec.algorithm, key, nonce, options);
}

export function aeadDecipher(
  spec: CipherSpec,
  key: Uint8Array,
  nonce: Uint8Array,
): DecipherGCM | DecipherChaCha20Poly1305 {
  const options = { authTagLength: TAG_LENGTH };
  return spec.algorithm === 'chacha20-poly1305'
    ? createDecipheriv(spec.algorithm, key, nonce, options)
    : createDecipheriv(spec.algorithm, key, nonce, options);
}
