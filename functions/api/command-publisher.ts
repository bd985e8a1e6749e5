import type { AgentCommand, DownlinkChannel } from '../../protocol/agent-messages.js';

/**
 * Delivers a command to one agent on `wirefleet/v1/agents/{agentId}/commands`
 * (QoS 1). Locally the stack passes one backed by an MQTT client connected to
 * its broker; in AWS, IotCommandPublisher (iot-command-publisher.ts) publishes
 * through the IoT Data Plane (`iot-data:Publish`). The API stores a command
 * before it publishes it, and answers 503 when no publisher is configured.
 *
 * publish() resolves once the broker has accepted the message (PUBACK), and
 * rejects when it cannot be delivered to the broker.
 */
export interface CommandPublisher {
  publish(agentId: string, command: AgentCommand): Promise<void>;
}

/**
 * Publishes any cloud → agent message (`commands`, `uploads`) on the agent's
 * downlink topic, QoS 1, never retained, as UTF-8 JSON; resolves on the
 * broker's acceptance like CommandPublisher.publish.
 */
export interface DownlinkPublisher {
  publishDownlink(agentId: string, channel: DownlinkChannel, message: object): Promise<void>;
}
