import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import {
  type AgentCommand,
  agentTopic,
  type DownlinkChannel,
  MAX_MESSAGE_BYTES,
} from '../../protocol/agent-messages.js';
import type { CommandPublisher, DownlinkPublisher } from './command-publisher.js';

/** The ATS data endpoint host, as DescribeEndpoint(iot:Data-ATS) returns it: no scheme, no path. */
const IOT_DATA_HOST = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/i;

/** A downlink publish (command or upload answer) did not reach AWS IoT Core (throttled, denied, unreachable). */
export class CommandPublishError extends Error {
  override readonly name = 'CommandPublishError';
}

/** IOT_DATA_ENDPOINT is set but is not a host name. */
export class IotDataEndpointError extends Error {
  override readonly name = 'IotDataEndpointError';
}

/**
 * Downlink messages through the AWS IoT Data Plane (`iot-data:Publish`): QoS 1,
 * never retained, UTF-8 JSON on `wirefleet/v1/agents/<id>/<channel>` — commands
 * for the API, `uploads` answers for evidence ingest. A publish resolves once
 * IoT Core has accepted the message, like the local publisher's PUBACK, and
 * rejects with CommandPublishError otherwise.
 */
export class IotCommandPublisher implements CommandPublisher, DownlinkPublisher {
  constructor(private readonly client: IoTDataPlaneClient) {}

  publish(agentId: string, command: AgentCommand): Promise<void> {
    return this.send(agentId, 'commands', command, `command ${command.command_id}`);
  }

  publishDownlink(agentId: string, channel: DownlinkChannel, message: object): Promise<void> {
    return this.send(agentId, channel, message, `${channel} message`);
  }

  private async send(
    agentId: string,
    channel: DownlinkChannel,
    message: object,
    what: string,
  ): Promise<void> {
    const topic = agentTopic(agentId, channel);
    const payload = Buffer.from(JSON.stringify(message), 'utf8');
    // IoT Core rejects larger messages; say so here rather than as an opaque 413.
    if (payload.length > MAX_MESSAGE_BYTES) {
      throw new CommandPublishError(
        `${what} is ${payload.length} bytes; AWS IoT Core takes at most ${MAX_MESSAGE_BYTES}`,
      );
    }
    try {
      await this.client.send(
        new PublishCommand({
          topic,
          qos: 1,
          retain: false,
          payload,
          contentType: 'application/json',
          payloadFormatIndicator: 'UTF8_DATA',
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? 'Error';
      const message = (error as { message?: string }).message ?? '';
      throw new CommandPublishError(
        `IoT Data Plane publish to ${topic} failed: ${name}${message ? ` (${message.slice(0, 200)})` : ''}`,
        { cause: error },
      );
    }
  }
}

/** `https://<host>` for the SDK; throws IotDataEndpointError for anything but a bare host name. */
export function iotDataEndpointUrl(host: string): string {
  const trimmed = host.trim();
  if (!IOT_DATA_HOST.test(trimmed)) {
    throw new IotDataEndpointError(
      `IOT_DATA_ENDPOINT must be the account's ATS data endpoint host without a scheme (e.g. abc123-ats.iot.eu-west-1.amazonaws.com), got "${trimmed.slice(0, 100)}"`,
    );
  }
  return `https://${trimmed}`;
}

/**
 * The IoT publisher when IOT_DATA_ENDPOINT is set; undefined when it is not
 * (the API then answers 503 command_channel_unavailable, as it always has).
 * The endpoint is always explicit: the SDK's default `data.iot` endpoint
 * serves a legacy certificate chain, and the ATS one is per account.
 */
export function iotCommandPublisherFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: { region?: string; client?: IoTDataPlaneClient } = {},
): IotCommandPublisher | undefined {
  const host = env.IOT_DATA_ENDPOINT?.trim();
  if (!host) return undefined;
  const endpoint = iotDataEndpointUrl(host);
  const client =
    options.client ??
    new IoTDataPlaneClient({
      endpoint,
      region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOf(host),
      maxAttempts: 3,
      // An API request must not wait long for a command channel that is not answering.
      requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 },
    });
  return new IotCommandPublisher(client);
}

/** The region in `<prefix>-ats.iot.<region>.amazonaws.com`, when there is one. */
function regionOf(host: string): string | undefined {
  return /\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
}
