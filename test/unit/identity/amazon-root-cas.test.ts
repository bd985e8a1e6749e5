import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AMAZON_ROOT_CA_1,
  AMAZON_ROOT_CA_3,
  AMAZON_ROOT_CA_BUNDLE,
} from '../../../functions/identity/amazon-root-cas.js';

// Debian's ca-certificates (Mozilla's store), where the source constants were copied from.
const DEBIAN = '/usr/share/ca-certificates/mozilla';
const CA1_FILE = `${DEBIAN}/Amazon_Root_CA_1.crt`;
const CA3_FILE = `${DEBIAN}/Amazon_Root_CA_3.crt`;

describe('Amazon root CAs (what agents verify AWS IoT ATS endpoints with)', () => {
  it('are Amazon Root CA 1 (RSA 2048) and Amazon Root CA 3 (EC P-256), self-signed', () => {
    const ca1 = new X509Certificate(AMAZON_ROOT_CA_1);
    const ca3 = new X509Certificate(AMAZON_ROOT_CA_3);
    expect(ca1.subject).toBe('C=US\nO=Amazon\nCN=Amazon Root CA 1');
    expect(ca3.subject).toBe('C=US\nO=Amazon\nCN=Amazon Root CA 3');
    expect(ca1.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(ca3.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    for (const ca of [ca1, ca3]) {
      expect(ca.ca).toBe(true);
      expect(ca.verify(ca.publicKey)).toBe(true);
    }
    // SHA-256 fingerprints as Amazon Trust Services publishes them.
    expect(ca1.fingerprint256).toBe(
      '8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E',
    );
    expect(ca3.fingerprint256).toBe(
      '18:CE:6C:FE:7B:F1:4E:60:B2:E3:47:B8:DF:E8:68:CB:31:D0:2E:BB:3A:DA:27:15:69:F5:03:43:B4:6D:B3:A4',
    );
    expect(AMAZON_ROOT_CA_BUNDLE).toBe(AMAZON_ROOT_CA_1 + AMAZON_ROOT_CA_3);
  });

  it.skipIf(!existsSync(CA1_FILE) || !existsSync(CA3_FILE))(
    "match Debian's ca-certificates byte for byte",
    () => {
      expect(AMAZON_ROOT_CA_1).toBe(readFileSync(CA1_FILE, 'utf8'));
      expect(AMAZON_ROOT_CA_3).toBe(readFileSync(CA3_FILE, 'utf8'));
    },
  );
});
