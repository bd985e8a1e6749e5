import { createHash, randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { agentTopic } from '../../protocol/agent-messages.js';
import {
  type SegmentDownlink,
  segmentDownlinkSchema,
  type UploadRequest,
} from '../../protocol/evidence/upload-messages.js';

/**
 * A bare MQTT agent for evidence tests: connects to the local broker with its password,
 * listens on its own `uploads` topic and publishes on its own `segments` topic, as the agent's
 * uploader does (the agent side itself is built separately, in agent/).
 */
export class EvidenceTestAgent {
  private readonly answers: SegmentDownlink[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    readonly agentId: string,
    readonly client: MqttClient,
  ) {
    client.on('message', (topic, payload) => {
      if (topic !== agentTopic(agentId, 'uploads')) return;
      this.answers.push(segmentDownlinkSchema.parse(JSON.parse(payload.toString())));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(url: string, agentId: string, password: string) {
    const client = await mqtt.connectAsync(url, {
      clientId: agentId,
      username: agentId,
      password,
      reconnectPeriod: 0,
    });
    const agent = new EvidenceTestAgent(agentId, client);
    await client.subscribeAsync(agentTopic(agentId, 'uploads'), { qos: 1 });
    return agent;
  }

  /** Publishes on `segments` and resolves with the next answer about that segment. */
  async send(message: { segment_id: string; [field: string]: unknown }): Promise<SegmentDownlink> {
    const seen = this.answers.length;
    await this.client.publishAsync(agentTopic(this.agentId, 'segments'), JSON.stringify(message), {
      qos: 1,
    });
    for (;;) {
      const answer = this.answers.slice(seen).find((a) => a.segment_id === message.segment_id);
      if (answer) return answer;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close() {
    return this.client.endAsync(true);
  }
}

export interface TestSegment {
  bytes: Buffer;
  request: UploadRequest;
}

/** An upload_request for these bytes (any bytes: the cloud never opens a segment). */
export function segmentRequest(
  bytes: Buffer,
  fields: Partial<UploadRequest> & { seq: number },
): TestSegment {
  return {
    bytes,
    request: {
      type: 'upload_request',
      segment_id: randomBytes(16).toString('hex'),
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      cipher: 'AES-256-GCM',
      key_id: 'ab'.repeat(16),
      started_at: 1_700_000_000 + fields.seq * 60,
      ended_at: 1_700_000_000 + fields.seq * 60 + 59,
      packets: 10,
      ...fields,
    },
  };
}

/** PUTs the bytes to an upload_url answer, with exactly the headers it names. */
export async function putSegment(answer: SegmentDownlink, body: Buffer): Promise<Response> {
  if (answer.type !== 'upload_url') throw new Error(`expected upload_url, got ${answer.type}`);
  return fetch(answer.url, { method: 'PUT', headers: answer.headers, body });
}
