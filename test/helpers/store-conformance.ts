import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../functions/routing/mappings.js';
import { routeQuery } from '../../functions/routing/router.js';
import {
  createStoreClients,
  destroyStoreClients,
  type StoreClients,
} from '../../functions/store/clients.js';
import type { StoreConfig } from '../../functions/store/config.js';
import { AlreadyExistsError } from '../../functions/store/errors.js';
import { createRepositories, type Repositories } from '../../functions/store/index.js';
import { createPacketIdGenerator } from '../../functions/store/packet-id.js';
import { packetFromDecision, type StoredPacket } from '../../functions/store/packets.js';
import { ensureTables } from '../../functions/store/schema.js';

/**
 * The store's queries, run against whichever DynamoDB `setup` provides
 * (dynalite, AWS's DynamoDB Local), so the emulators cannot drift from each other.
 */
export function describeStoreConformance(
  name: string,
  setup: () => Promise<{ config: StoreConfig; teardown(): Promise<void> }>,
) {
  describe(`store queries on ${name}`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    let clients: StoreClients;
    let repos: Repositories;

    beforeAll(async () => {
      env = await setup();
      clients = createStoreClients(env.config);
      await ensureTables(clients, env.config);
      repos = createRepositories(clients, env.config);
    }, 120_000);
    afterAll(async () => {
      if (clients) destroyStoreClients(clients);
      await env?.teardown();
    });

    const packetsFor = (count: number, startMs: number): StoredPacket[] => {
      const nextId = createPacketIdGenerator();
      const queries = [
        'Write a Python function',
        'Why is the sky blue? analyze it',
        'What is DNS?',
      ];
      return Array.from({ length: count }, (_, i) => {
        const ms = startMs + i * 1000;
        const id = nextId(ms);
        const { decision, frame } = routeQuery(
          { query: `${queries[i % 3]} #${i}`, sourceEid: '10.0.0.1', priority: 'medium' },
          {
            instanceId: 1,
            mappings: DEFAULT_MAPPINGS,
            packetId: id,
            timestampUs: ms * 1000,
            random: () => i,
          },
        );
        return packetFromDecision(id, ms * 1000, decision, frame);
      });
    };

    it('creates tenants with unique instance IDs and resolves hashed tokens', async () => {
      const a = await repos.tenants.create('conf-a', 1);
      const b = await repos.tenants.create('conf-b');
      expect(a.instanceId).toBe(1);
      expect(b.instanceId).toBe(2);
      await expect(repos.tenants.create('conf-a')).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(repos.tenants.create('conf-c', 2)).rejects.toBeInstanceOf(AlreadyExistsError);
      const token = await repos.tenants.issueToken('conf-b');
      expect((await repos.tenants.resolveToken(token))?.name).toBe('conf-b');
      expect(await repos.tenants.resolveToken(`${token}x`)).toBeUndefined();
      expect(await repos.tenants.ensure('conf-a')).toEqual(a);
    });

    it('stores mappings per tenant and falls back to the defaults', async () => {
      expect((await repos.mappings.get('conf-a')).updatedAt).toBeNull();
      const changed = structuredClone(DEFAULT_MAPPINGS);
      changed.source_locators = [{ rloc: '198.51.100.1', reachable: true }];
      await repos.mappings.put('conf-a', changed);
      expect((await repos.mappings.get('conf-a')).mappings.source_locators[0]!.rloc).toBe(
        '198.51.100.1',
      );
      expect((await repos.mappings.get('conf-b')).mappings).toEqual(DEFAULT_MAPPINGS);
    });

    it('stores packets and queries them by id, recency, window and filter', async () => {
      const start = Date.UTC(2026, 0, 1);
      const packets = packetsFor(45, start);
      for (const p of packets) await repos.packets.put('conf-a', p);
      await repos.packets.put('conf-b', packetsFor(1, start)[0]!);

      await expect(repos.packets.put('conf-a', packets[0]!)).rejects.toBeInstanceOf(
        AlreadyExistsError,
      );
      const got = await repos.packets.get('conf-a', packets[7]!.id);
      expect(got?.record).toEqual(packets[7]!.record);
      expect(Buffer.from(got!.frame).equals(Buffer.from(packets[7]!.frame))).toBe(true);
      expect(await repos.packets.get('conf-b', packets[7]!.id)).toBeUndefined();

      const recent = await repos.packets.recent('conf-a', 5);
      expect(recent.map((p) => p.id)).toEqual(
        packets
          .slice(-5)
          .reverse()
          .map((p) => p.id),
      );

      const model = packets[0]!.model;
      const filtered = await repos.packets.recent('conf-a', 100, { model });
      expect(filtered.map((p) => p.id)).toEqual(
        packets
          .filter((p) => p.model === model)
          .reverse()
          .map((p) => p.id),
      );

      const ids: string[] = [];
      for await (const id of repos.packets.selectIds(
        'conf-a',
        {},
        { newestFirst: true, limit: 30 },
      ))
        ids.push(id);
      expect(ids).toHaveLength(30);
      const window: string[] = [];
      for await (const p of repos.packets.select(
        'conf-a',
        {},
        {
          newestFirst: false,
          limit: 30,
          fromId: ids.at(-1),
          toId: ids[0],
        },
      )) {
        window.push(p.id);
      }
      expect(window).toEqual([...ids].reverse());

      const timed = await repos.packets.recent('conf-a', 100, {
        sinceMs: start + 10_000,
        untilMs: start + 19_000,
      });
      expect(timed).toHaveLength(10);

      const stats = await repos.packets.stats('conf-a', start + 45_000);
      expect(stats.total_packets).toBe(45);
      expect(stats.total_bytes).toBe(packets.reduce((sum, p) => sum + p.frame.length, 0));
      expect(Object.values(stats.packets_by_model).reduce((a, b) => a + b)).toBe(45);
      expect(stats.recent_packets).toBe(45);
    });
  });
}
