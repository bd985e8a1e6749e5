import type { PacketFilter, PacketRepository, StoredPacket } from '../store/packets.js';

/** A run of matching packets, by inclusive ID range, and how many of them match. */
export interface ExportSegment {
  fromId: string;
  toId: string;
  count: number;
}

export interface ExportPlan {
  /** Matching packets found (capped by `stopAfter + 1` when it is given). */
  packets: number;
  /** Oldest first; empty when `exceeds`. */
  segments: ExportSegment[];
  /** More than `stopAfter` packets match: too many to build while the client waits. */
  exceeds: boolean;
}

export interface ExportSelection {
  count: number;
  filter: PacketFilter;
  /** One packet by id (its own download). */
  packetId?: string;
}

/**
 * Packets per segment. Each segment is one ranged Query run (a few DynamoDB
 * pages); small enough to keep READ_CONCURRENCY of them in memory (~3 MB each).
 */
export const SEGMENT_PACKETS = 2000;
/** Segments read at the same time while the file is written. */
export const READ_CONCURRENCY = 3;

/**
 * The keys-only pass: finds the newest `count` matching packets and cuts them
 * into segments that can be read in parallel. With `stopAfter`, it stops
 * reading once more than that many match (`exceeds`).
 */
export async function planExport(
  packets: Pick<PacketRepository, 'selectIds'>,
  tenant: string,
  selection: ExportSelection,
  options: { stopAfter?: number; segmentPackets?: number } = {},
): Promise<ExportPlan> {
  if (selection.packetId) {
    const id = selection.packetId;
    return { packets: 1, segments: [{ fromId: id, toId: id, count: 1 }], exceeds: false };
  }
  const size = options.segmentPackets ?? SEGMENT_PACKETS;
  const limit =
    options.stopAfter === undefined
      ? selection.count
      : Math.min(selection.count, options.stopAfter + 1);
  const newestFirst: ExportSegment[] = [];
  let current: ExportSegment | undefined;
  let found = 0;
  for await (const id of packets.selectIds(tenant, selection.filter, {
    newestFirst: true,
    limit,
  })) {
    found++;
    if (!current) {
      current = { fromId: id, toId: id, count: 0 };
      newestFirst.push(current);
    }
    current.fromId = id;
    if (++current.count === size) current = undefined;
  }
  if (options.stopAfter !== undefined && found > options.stopAfter) {
    return { packets: found, segments: [], exceeds: true };
  }
  return { packets: found, segments: newestFirst.reverse(), exceeds: false };
}

/**
 * The planned packets in time order, reading up to `concurrency` segments
 * ahead while the caller consumes the current one. Memory stays bounded by
 * (concurrency + 1) segments.
 */
export async function* readSegments(
  read: (segment: ExportSegment) => AsyncIterable<StoredPacket>,
  segments: readonly ExportSegment[],
  concurrency = READ_CONCURRENCY,
): AsyncGenerator<StoredPacket> {
  const pending: Promise<StoredPacket[]>[] = [];
  let next = 0;
  const startNext = () => {
    const segment = segments[next++]!;
    const reading = (async () => {
      const packets: StoredPacket[] = [];
      for await (const packet of read(segment)) packets.push(packet);
      return packets;
    })();
    // Awaited in order below; this only keeps an early failure from being "unhandled".
    reading.catch(() => undefined);
    pending.push(reading);
  };
  while (next < segments.length && pending.length < concurrency) startNext();
  while (pending.length > 0) {
    const packets = await pending.shift()!;
    if (next < segments.length) startNext();
    yield* packets;
  }
}
