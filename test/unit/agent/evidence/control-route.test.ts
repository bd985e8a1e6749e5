import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CaptureController } from '../../../../agent/capture-controller.js';
import { createControlApp } from '../../../../agent/control/app.js';
import { createEvidenceControl } from '../../../../agent/evidence/control.js';
import { createKeyFile } from '../../../../agent/evidence/key-file.js';
import { buildEvidenceMetrics } from '../../../../agent/evidence/metrics.js';
import { SegmentRecorder } from '../../../../agent/evidence/recorder.js';
import { SegmentSpool } from '../../../../agent/evidence/segment-spool.js';
import { createAgentLogger } from '../../../../agent/log.js';
import { toHex } from '../../../../protocol/evidence/format.js';

// POST /packet_capture/capture/encryption/enable over the real app, controller, recorder, spool
// and key files (no capture runs: the controller is idle).

const TOKEN = 'evidence-route-token-0123456789';
const URL_ = '/packet_capture/capture/encryption/enable';
let root: string;
let keyFile: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'wirefleet-enc-route-'));
  keyFile = path.join(root, 'capture.key');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** An idle controller's settings (nothing is captured here). */
const IDLE_CAPTURE = {
  agentId: 'edge-1',
  capture: {
    interface: 'eth0',
    backend: 'afpacket',
    buffer_size_mb: 64,
    snaplen: 0,
    filter: '',
    timestamp_source: 'kernel',
    promiscuous: false,
    replay_loop_sec: 0,
  },
  flows: {
    table_size: 4096,
    idle_timeout_sec: 30,
    active_timeout_sec: 120,
    summary_interval_sec: 5,
  },
} as const;

async function harness() {
  const lines: Record<string, unknown>[] = [];
  const logger = createAgentLogger({ write: (l) => lines.push(JSON.parse(l)) });
  const spool = await SegmentSpool.open({ dir: path.join(root, 'evidence'), maxBytes: 1 << 20 });
  const recorder = new SegmentRecorder({
    agentId: 'edge-1',
    spool,
    segmentBytes: 1 << 20,
    segmentSeconds: 60,
    logger,
  });
  const controller = new CaptureController({
    ...IDLE_CAPTURE,
    logger,
    onFlows: () => {},
    onEvent: () => {},
    verifyFirmware: () => ({ status: 'valid', message: 'ok' }),
    recorder,
  });
  const app = createControlApp({
    controller,
    token: TOKEN,
    logger,
    evidence: createEvidenceControl({ recorder, status: () => controller.status(), logger }),
    evidenceMetrics: () =>
      buildEvidenceMetrics({
        recording: recorder.enabled,
        session_recording: false,
        recorder: recorder.stats(),
        spool: spool.stats(),
        uploader: {
          confirmed: 0,
          confirmed_bytes: 0,
          puts: 0,
          failed_attempts: 0,
          refused: 0,
          uploading: null,
          last_error: null,
        },
      }),
  });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    app.request(URL_, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { app, post, recorder, lines };
}

describe('POST /packet_capture/capture/encryption/enable', () => {
  it("answers the spec's shape, turns recording on, and status says encryption_enabled", async () => {
    const key = createKeyFile(keyFile);
    const h = await harness();
    const before = await h.app.request('/packet_capture/capture/status', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await before.json()).toMatchObject({ encryption_enabled: false, recording: false });
    const res = await h.post({ cipher_suite: 'chacha20-poly1305', key_file: keyFile });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'enabled',
      cipher_suite: 'ChaCha20-Poly1305',
      key_file: keyFile,
      key_id: toHex(key.id),
      applies: 'now',
    });
    expect(h.recorder.state()).toMatchObject({ enabled: true, cipher_suite: 'ChaCha20-Poly1305' });
    const after = await h.app.request('/packet_capture/capture/status', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const status = (await after.json()) as Record<string, any>;
    expect(status.encryption_enabled).toBe(true);
    expect(status.evidence).toMatchObject({
      recording_enabled: true,
      segments_recorded: 0,
      spool: { depth_segments: 0, last_seq: -1 },
    });
    expect(JSON.stringify(h.lines)).toMatch(/"action":"encryption.enable".*"outcome":"ok"/);
  });

  it('refuses a key file readable by others (0644) with a 400 that names the file and mode', async () => {
    createKeyFile(keyFile);
    const loose = path.join(root, 'loose.key');
    await copyFile(keyFile, loose);
    await chmod(loose, 0o644);
    const h = await harness();
    const res = await h.post({ cipher_suite: 'AES-256-GCM', key_file: loose });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('key_file_refused');
    expect(body.error.message).toContain(loose);
    expect(body.error.message).toContain('0644');
    expect(h.recorder.enabled).toBe(false);
  });

  it.each([
    [{ cipher_suite: 'AES-256-CBC', key_file: '/k' }, 'invalid_request', /cipher_suite/],
    [{ cipher_suite: 'AES-256-GCM', key_file: 'relative.key' }, 'invalid_request', /absolute/],
    [{ cipher_suite: 'AES-256-GCM' }, 'invalid_request', /key_file/],
    [{ cipher_suite: 'AES-256-GCM', key_file: '/k', extra: 1 }, 'invalid_request', /extra/],
  ])('refuses %j (%s)', async (body, code, message) => {
    const h = await harness();
    const res = await h.post(body);
    expect(res.status).toBe(400);
    const parsed = (await res.json()) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.message).toMatch(message);
  });

  it('a missing key file is refused, not created', async () => {
    const h = await harness();
    const res = await h.post({
      cipher_suite: 'AES-256-GCM',
      key_file: path.join(root, 'none.key'),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('key_file_refused');
  });

  it('an agent without evidence (its spool could not open) says recording is unavailable', async () => {
    const app = createControlApp({
      controller: new CaptureController({
        ...IDLE_CAPTURE,
        logger: createAgentLogger({ write: () => {} }),
        onFlows: () => {},
        onEvent: () => {},
        verifyFirmware: () => ({ status: 'valid', message: 'ok' }),
      }),
      token: TOKEN,
      logger: createAgentLogger({ write: () => {} }),
    });
    createKeyFile(keyFile);
    const res = await app.request(URL_, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cipher_suite: 'AES-256-GCM', key_file: keyFile }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'recording_unavailable',
    );
  });
});
