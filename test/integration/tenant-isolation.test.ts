import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../functions/routing/mappings.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import { TenantRepository } from '../../functions/store/tenants.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let stack: TestStack;
let clients: StoreClients;
let acmeToken: string;
let acmePacket: Record<string, any>;
let defaultPacket: Record<string, any>;

beforeAll(async () => {
  stack = await startTestStack();
  clients = createStoreClients(stack.config);
  const tenants = new TenantRepository(clients, stack.config.tenantsTable);
  const acme = await tenants.create('acme');
  acmeToken = await tenants.issueToken(acme.name);
  const route = async (token: string, query: string) =>
    (await (
      await stack.api('/api/v1/route', { method: 'POST', token, json: { query } })
    ).json()) as Record<string, any>;
  acmePacket = await route(acmeToken, 'Write a Go function for acme');
  defaultPacket = await route(stack.token, 'Write a Python function for default');
});
afterAll(async () => {
  if (clients) destroyStoreClients(clients);
  await stack?.stop();
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;

describe('tenant isolation', () => {
  it('gives each tenant its own LISP instance ID in its packets', () => {
    expect(defaultPacket.lisp_packet.lisp_header.instance_id).toBe(1);
    expect(acmePacket.lisp_packet.lisp_header.instance_id).toBeGreaterThan(1);
  });

  it('never lets one tenant read another tenant packet', async () => {
    const id = acmePacket.lisp_packet.packet_id;
    expect((await stack.api(`/api/v1/packets/${id}`, { token: acmeToken })).status).toBe(200);
    expect((await stack.api(`/api/v1/packets/${id}`)).status).toBe(404);
    expect((await stack.api(`/api/v1/packets/${id}/download/pcap`)).status).toBe(404);
    const vis = await stack.api('/api/v1/packets/visualize', {
      method: 'POST',
      json: { packet_id: id },
    });
    expect(vis.status).toBe(404);
  });

  it('keeps recent lists, stats and downloads per tenant', async () => {
    const mine = await json(await stack.api('/api/v1/packets/recent?count=100'));
    expect(mine.packets.map((p: any) => p.packet_id)).toEqual([
      defaultPacket.lisp_packet.packet_id,
    ]);
    const theirs = await json(
      await stack.api('/api/v1/packets/recent?count=100', { token: acmeToken }),
    );
    expect(theirs.packets.map((p: any) => p.packet_id)).toEqual([acmePacket.lisp_packet.packet_id]);
    expect((await json(await stack.api('/api/v1/packets/stats'))).stats.total_packets).toBe(1);
    expect(
      (await json(await stack.api('/api/v1/packets/stats', { token: acmeToken }))).stats
        .total_packets,
    ).toBe(1);
    const download = await json(
      await stack.api('/api/v1/packets/download/pcap?count=100', {
        token: acmeToken,
        headers: { Accept: 'application/json' },
      }),
    );
    expect(download.packets).toBe(1);
    expect(download.key).toMatch(/^tenants\/acme\//);
  });

  it('keeps mappings per tenant', async () => {
    const changed = structuredClone(DEFAULT_MAPPINGS);
    changed.source_locators = [{ rloc: '203.0.113.7', reachable: true }];
    expect(
      (await stack.api('/api/v1/mappings', { method: 'PUT', token: acmeToken, json: changed }))
        .status,
    ).toBe(200);
    const acmeRoute = await json(
      await stack.api('/api/v1/route', { method: 'POST', token: acmeToken, json: { query: 'hi' } }),
    );
    expect(acmeRoute.lisp_packet.outer_header.src_ip).toBe('203.0.113.7');
    const mine = await json(await stack.api('/api/v1/mappings'));
    expect(mine.is_default).toBe(true);
    expect(mine.source_locators[0].rloc).toBe('192.168.0.1');
  });

  it('ignores a tenant named in the payload', async () => {
    const res = await stack.api('/api/v1/route', {
      method: 'POST',
      json: { query: 'x', tenant: 'acme' },
    });
    expect(res.status).toBe(400);
  });
});
