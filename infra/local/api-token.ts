import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateToken, type TenantRepository } from '../../functions/store/tenants.js';

export const TOKEN_FILE = 'api-token';

/**
 * The default tenant's token: WIREFLEET_API_TOKEN if set, else the one kept
 * in the data dir (mode 0600), else a new one written there. Its hash is
 * (re-)registered in the store each start.
 */
export async function ensureDefaultToken(
  tenants: TenantRepository,
  tenant: string,
  dataDir: string,
  fromEnv: string | undefined,
): Promise<{ token: string; source: 'env' | 'file' | 'new' }> {
  const file = path.join(dataDir, TOKEN_FILE);
  let token = fromEnv?.trim();
  let source: 'env' | 'file' | 'new' = 'env';
  if (!token) {
    token = (await readFile(file, 'utf8').catch(() => '')).trim();
    source = 'file';
  }
  if (!token) {
    token = generateToken();
    source = 'new';
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  if ((await tenants.resolveToken(token))?.name !== tenant) {
    await tenants.registerToken(
      tenant,
      token,
      source === 'env' ? 'WIREFLEET_API_TOKEN' : 'local default',
    );
  }
  return { token, source };
}
