import { createHash, createPrivateKey, sign } from 'node:crypto';
import {
  canonicalManifestBytes,
  type SignedManifest,
  type WindowManifest,
} from '../../protocol/evidence/window-manifest.js';
import type { ManifestKeyRepository } from '../store/manifest-key.js';

/** First 16 bytes of SHA-256 over the SPKI DER, hex: how people name and pin the key. */
export function manifestKeyId(publicKeySpki: Uint8Array): string {
  return createHash('sha256').update(publicKeySpki).digest('hex').slice(0, 32);
}

/** Signs window manifests with the cloud's Ed25519 key. */
export class ManifestSigner {
  constructor(private readonly keys: Pick<ManifestKeyRepository, 'keyPair'>) {}

  async sign(manifest: WindowManifest): Promise<SignedManifest> {
    const { privateKey, publicKey } = await this.keys.keyPair();
    const key = createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' });
    const value = sign(null, canonicalManifestBytes(manifest), key);
    return {
      manifest,
      signature: {
        alg: 'Ed25519',
        key_id: manifestKeyId(publicKey),
        public_key: Buffer.from(publicKey).toString('base64'),
        value: value.toString('base64'),
      },
    };
  }

  /** The public key, for pinning. */
  async publicKey(): Promise<{ alg: 'Ed25519'; key_id: string; public_key: string; pem: string }> {
    const { publicKey } = await this.keys.keyPair();
    const b64 = Buffer.from(publicKey).toString('base64');
    return {
      alg: 'Ed25519',
      key_id: manifestKeyId(publicKey),
      public_key: b64,
      pem: `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`,
    };
  }
}
