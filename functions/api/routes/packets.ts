import { type Context, Hono } from 'hono';
import { dissectFrame } from '../../../protocol/dissect.js';
import { exportPcap, type PcapDownload } from '../../pcap/export.js';
import { visualizePacket } from '../../routing/visualize.js';
import { PACKET_ID_PATTERN } from '../../store/packet-id.js';
import type { StoredPacket } from '../../store/packets.js';
import { pageAfter } from '../../store/query.js';
import type { AppDeps, AppEnv } from '../env.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { pageTokensFor } from '../paging.js';
import {
  downloadQuerySchema,
  recentQuerySchema,
  singleDownloadQuerySchema,
  visualizeRequestSchema,
} from '../schemas.js';
import { readJson, readQuery } from '../validate.js';
import { downloadOrExport, packetExportRoutes } from './packet-exports.js';

const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The /packets resource: stats, recent, one packet, its picture and PCAP downloads. */
export function packetRoutes(deps: AppDeps) {
  async function findPacket(tenant: string, id: string): Promise<StoredPacket> {
    if (!PACKET_ID_PATTERN.test(id)) {
      throw new ValidationError(
        `"${id.slice(0, 40)}" is not a packet id (16 hex digits)`,
        'invalid_packet_id',
      );
    }
    const packet = await deps.packets.get(tenant, id);
    if (!packet) throw new NotFoundError(`no packet ${id}`, 'packet_not_found');
    return packet;
  }

  const pageTokens = pageTokensFor(deps);

  const pcapDeps = () => ({
    packets: deps.packets,
    s3: deps.s3,
    bucket: deps.pcapBucket,
    urlTtlSeconds: deps.urlTtlSeconds,
  });

  /** 302 to the presigned URL, or the JSON description when the client asks for JSON. */
  const answerDownload = (c: Context<AppEnv>, d: PcapDownload) => {
    c.header('Cache-Control', 'no-store');
    if ((c.req.header('accept') ?? '').includes('application/json')) {
      return c.json({
        url: d.url,
        expires_at: d.expires_at,
        key: d.key,
        filename: d.filename,
        content_type: d.content_type,
        packets: d.packets,
        bytes: d.bytes,
      });
    }
    return c.redirect(d.url, 302);
  };

  return new Hono<AppEnv>()
    .get('/packets/stats', async (c) => {
      const stats = await deps.packets.stats(c.get('tenant').name, deps.now?.() ?? Date.now());
      return c.json({ status: 'success', stats });
    })
    .get('/packets/recent', async (c) => {
      const { limit, next_token, model, workload_type, since, until } = readQuery(
        c,
        recentQuerySchema,
      );
      const tenant = c.get('tenant').name;
      // The filters are part of the query a page token is bound to: a page of another filter is refused.
      const cursor = await pageTokens.cursor(
        tenant,
        'packets/recent',
        { model, workload_type, since, until },
        next_token,
      );
      const page = await deps.packets.recentPage(
        tenant,
        { limit, ...pageAfter(cursor.after) },
        { model, workloadType: workload_type, sinceMs: since, untilMs: until },
      );
      return c.json({
        status: 'success',
        count: page.packets.length,
        packets: page.packets.map((p) => p.record),
        next_token: await cursor.tokenFor(page.next),
      });
    })
    .post('/packets/visualize', async (c) => {
      const { packet_id } = await readJson(c, visualizeRequestSchema);
      const tenant = c.get('tenant').name;
      const packet = packet_id
        ? await findPacket(tenant, packet_id)
        : (await deps.packets.recent(tenant, 1))[0];
      if (!packet)
        throw new NotFoundError('no packets yet: POST /api/v1/route first', 'no_packets');
      const caption = `LISP packet ${packet.id}  ${packet.frame.length} bytes  ${new Date(packet.timestampUs / 1000).toISOString()}`;
      const visualization = visualizePacket(packet.frame, caption);
      if ((c.req.header('accept') ?? '').startsWith('text/plain'))
        return c.text(`${visualization}\n`);
      return c.json({ status: 'success', packet_id: packet.id, visualization });
    })
    .get('/packets/download/pcap', async (c) => {
      const q = readQuery(c, downloadQuerySchema);
      // Small ones are built now (302/JSON); large ones, or on request, become export jobs (202).
      const download = await downloadOrExport(c, deps, {
        count: q.count,
        format: q.format,
        filter: {
          model: q.model,
          workloadType: q.workload_type,
          sinceMs: q.since,
          untilMs: q.until,
        },
      });
      return download instanceof Response ? download : answerDownload(c, download);
    })
    .route('/', packetExportRoutes(deps))
    .get('/packets/:id/download/pcap', async (c) => {
      const { format } = readQuery(c, singleDownloadQuerySchema);
      const tenant = c.get('tenant').name;
      const packet = await findPacket(tenant, c.req.param('id'));
      const download = await exportPcap(pcapDeps(), tenant, {
        count: 1,
        format,
        filter: {},
        packetId: packet.id,
      });
      return answerDownload(c, download);
    })
    .get('/packets/:id', async (c) => {
      const packet = await findPacket(c.get('tenant').name, c.req.param('id'));
      return c.json({
        status: 'success',
        packet: packet.record,
        layers: dissectFrame(packet.frame).layers,
        frame_hex: toHex(packet.frame),
      });
    });
}
