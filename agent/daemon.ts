import { randomUUID } from 'node:crypto';
import type { FlowRecord } from '../native/index.js';
import { ADDON_PATH } from '../native/index.js';
import { type AgentEvent, EVENT_TYPES } from '../protocol/agent-messages.js';
import { VERSION } from '../protocol/version.js';
import { packFlowBatches } from './batcher.js';
import { CaptureController } from './capture-controller.js';
import { CommandHandler } from './commands.js';
import type { AgentConfig } from './config.js';
import { createControlApp } from './control/app.js';
import { startControlServer } from './control/server.js';
import type { EvidenceEventType } from './evidence/recorder.js';
import { openEvidence } from './evidence/setup.js';
import { loadVerifiedEngine } from './integrity.js';
import { type AgentLogger, createAgentLogger } from './log.js';
import { ensureSecretFile } from './secret-file.js';
import { DiskSpool } from './spool.js';
import { type RunningTango, startTango } from './tango/setup.js';
import { buildHeartbeat, buildMetrics } from './telemetry.js';
import { uplinkOptionsFromConfig } from './uplink/options.js';
import { Uplink } from './uplink.js';

/**
 * The agent: verifies and loads the native engine, meters flows, spools every
 * batch to disk before publishing it QoS 1, answers cloud commands and the
 * local control API, and reports heartbeats, metrics and events.
 */
export interface RunningAgent {
  readonly startedAt: number;
  /** Ends capture (flows go to the spool), drains the uplink briefly, closes everything. */
  stop(reason?: string): Promise<void>;
  /** Resolves when the agent has stopped. */
  readonly stopped: Promise<void>;
  controlUrl: string | undefined;
}

export interface AgentRunOptions {
  /** Load the addon even when its signature does not verify (logged, and an event is raised). */
  allowUnsigned?: boolean;
  logger?: AgentLogger;
  addonPath?: string;
}

export async function runAgent(
  config: AgentConfig,
  options: AgentRunOptions = {},
): Promise<RunningAgent> {
  const logger =
    options.logger ??
    createAgentLogger({
      level: config.log.level,
      base: { agent_id: config.agent_id },
      auditFile: config.log.audit_file ?? undefined,
    });
  const startedAt = Date.now();

  // 1. Integrity first: nothing from the addon runs before its signature is checked.
  // Another build can be named, but whatever is named must still verify against the configured key.
  const addonPath = options.addonPath ?? process.env.WIREFLEET_ADDON_PATH ?? ADDON_PATH;
  const integrity = loadVerifiedEngine({
    addonPath,
    ...(config.integrity.signature_file ? { signaturePath: config.integrity.signature_file } : {}),
    publicKeyPath: config.integrity.public_key_file,
    allowUnsigned: options.allowUnsigned === true || config.integrity.allow_unsigned,
    logger,
  });

  // 2. The spool and the uplink: the spool is the only queue, MQTT is transport.
  // Appends chain on the opening spool, so an event raised during its own
  // recovery (an overflow after max_size_mb was lowered) waits for it.
  const opening = DiskSpool.open({
    dir: config.spool.dir,
    maxBytes: config.spool.max_size_mb * 1024 * 1024,
    logger,
    onOverflow: (dropped: { batches: number; records: number }) =>
      raise('spool_overflow', 'warning', 'spool full: the oldest batches were dropped', dropped),
  });
  let appendChain: Promise<unknown> = opening;
  let notify = () => {};
  // Durable channels: append, then wake the uplink. Appends are serialised so batches keep their order.
  const spoolMessage = (channel: 'flows' | 'events' | 'replies', payload: Buffer, records = 0) => {
    const next = appendChain.then(() =>
      opening.then((s) => s.append(channel, payload, { records })),
    );
    appendChain = next.catch(() => undefined);
    return next.then(() => notify());
  };
  const spool = await opening;
  const uplink = new Uplink(spool, uplinkOptionsFromConfig(config, logger));
  notify = () => uplink.notify();

  // Evidence: encrypted pcap segments in their own bounded spool, uploaded when the cloud asks.
  const raiseEvidence = (
    type: EvidenceEventType,
    severity: AgentEvent['severity'],
    message: string,
    details?: Record<string, unknown>,
  ) => raise(type, severity, message, { spool: 'evidence', ...details });
  const evidence = await openEvidence({ config, uplink, logger, onEvent: raiseEvidence });

  function raise(
    type: AgentEvent['type'] | EvidenceEventType,
    severity: AgentEvent['severity'],
    message: string,
    details?: Record<string, unknown>,
  ): void {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      // The cloud refuses event types its schema does not list: logged here, not sent.
      logger.warn('event (type not in the protocol yet: not sent)', { type, message, ...details });
      return;
    }
    const event: AgentEvent = {
      schema: 'wirefleet.event/1',
      event_id: randomUUID(),
      sent_at: Date.now() / 1000,
      type: type as AgentEvent['type'],
      severity,
      message,
      ...(details ? { details } : {}),
    };
    logger[severity === 'info' ? 'info' : 'warn']('event', { type, message, ...details });
    spoolMessage('events', Buffer.from(JSON.stringify(event))).catch((error: Error) =>
      logger.error('event not spooled', { type, error: error.message }),
    );
  }

  // Flows the spool could not take (disk full, I/O error): counted in metrics, never silent.
  const lost = { batches: 0, records: 0 };
  const onFlows = async (flows: FlowRecord[]) => {
    if (flows.length === 0) return;
    for (const batch of packFlowBatches(config.agent_id, flows, {
      maxRecords: config.flows.batch_max_records,
    })) {
      try {
        await spoolMessage('flows', batch.payload, batch.records);
      } catch (error) {
        lost.batches++;
        lost.records += batch.records;
        logger.error('flow batch not spooled: lost', {
          records: batch.records,
          error: (error as Error).message,
          lost_records: lost.records,
        });
      }
    }
  };

  const controller = new CaptureController({
    agentId: config.agent_id,
    capture: config.capture,
    flows: config.flows,
    logger,
    onFlows,
    onEvent: raise,
    dropRateAlertPct: config.alerts.drop_rate_pct,
    verifyFirmware: () => integrity.verify(),
    ...(evidence ? { recorder: evidence.recorder } : {}),
  });

  // 3. Cloud commands: validated, carried out once, answered on `replies` with the command id.
  const commands = new CommandHandler({
    controller,
    logger,
    reply: (reply) => spoolMessage('replies', Buffer.from(JSON.stringify(reply))),
    // The cloud may replay only the capture file this agent's config names.
    allowedFiles: config.capture.file ? [config.capture.file] : [],
    ...(evidence
      ? {
          evidence: {
            control: evidence.control(() => controller.status()),
            keyFile: config.evidence.key_file,
            cipher: config.evidence.cipher,
          },
        }
      : {}),
  });
  uplink.onCommand((payload: Buffer) => {
    commands
      .handle(payload)
      .catch((error: Error) => logger.error('command failed', { error: error.message }));
  });

  // 4. Heartbeats and metrics: current state, published only while connected (never spooled).
  const heartbeat = () =>
    uplink.publishNow(
      'heartbeat',
      Buffer.from(
        JSON.stringify(
          buildHeartbeat({ config, version: VERSION, startedAt, status: controller.status() }),
        ),
      ),
    );
  const evidenceMetrics = evidence
    ? () => evidence.metrics(controller.status().recording === true)
    : undefined;
  const metrics = () =>
    uplink.publishNow(
      'metrics',
      Buffer.from(
        JSON.stringify({
          ...buildMetrics({
            controller: controller.metrics(),
            running: controller.status().running,
            spool: {
              ...spool.stats(),
              write_failures: lost.batches,
              write_failed_records: lost.records,
            },
            uplink: uplink.stats(),
          }),
          ...(evidenceMetrics ? { evidence: evidenceMetrics() } : {}),
        }),
      ),
    );
  // 5. The local control API, then the timers and the uplink. If anything here
  // fails, what already started is closed again, so the process can exit.
  let control: { url: string; close(): Promise<void> } | undefined;
  let tango: RunningTango | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    if (config.control.enabled) {
      const token = ensureControlToken(config.control.token_file);
      control = await startControlServer({
        app: createControlApp({
          controller,
          token,
          logger,
          ...(evidence
            ? { evidence: evidence.control(() => controller.status()), evidenceMetrics }
            : {}),
          tango: () => tango?.status(),
        }),
        listen: config.control.listen,
      });
      logger.info('control API listening', { url: control.url });
    }
    timers.push(
      setInterval(heartbeat, config.heartbeat.interval_sec * 1000),
      setInterval(metrics, config.heartbeat.metrics_interval_sec * 1000),
    );
    uplink.on?.('connected', () => {
      heartbeat();
      metrics();
    });
    uplink.start();
    evidence?.uploader.start();
    // 6. The Tango tunnel node, when configured: paths reports are current state, like metrics.
    if (config.tango.enabled) {
      tango = await startTango({
        config,
        logger,
        publish: (message) => {
          const sent = uplink.publishNow('paths', Buffer.from(JSON.stringify(message)));
          logger.debug('tango paths report', { sent, paths: message.paths.length });
        },
        onEvent: (type, message, details) => raise(type, 'info', message, details),
      });
    }
  } catch (error) {
    await tango?.stop().catch(() => undefined);
    for (const timer of timers) clearInterval(timer);
    await control?.close().catch(() => undefined);
    await uplink.stop({ drainMs: 0 }).catch(() => undefined);
    await controller.close();
    throw error;
  }
  raise('agent_started', 'info', `agent ${config.agent_id} started`, {
    version: VERSION,
    integrity: integrity.status,
  });
  if (integrity.status !== 'valid') {
    raise('integrity_unverified', 'critical', `native engine signature ${integrity.status}`, {
      message: integrity.message,
    });
  }
  if (config.capture.autostart) {
    try {
      await controller.start({}, 'config');
    } catch (error) {
      raise('capture_failed', 'critical', (error as Error).message);
    }
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') => {
    stopping ??= (async () => {
      logger.info('agent stopping', { reason });
      for (const timer of timers) clearInterval(timer);
      raise('agent_stopping', 'info', reason);
      try {
        if (controller.status().running) await controller.stop({ graceful: true }, 'shutdown');
      } catch (error) {
        logger.error('capture stop failed', { error: (error as Error).message });
      }
      await tango
        ?.stop()
        .catch((error: Error) => logger.error('tango stop failed', { error: error.message }));
      await appendChain;
      await control?.close();
      await evidence?.recorder.idle();
      await evidence?.uploader.stop();
      await uplink.stop({ drainMs: 5000 });
      await controller.close();
      logger.info('agent stopped', { spool: spool.stats() });
      resolveStopped();
    })();
    return stopping;
  };
  return { startedAt, stop, stopped, controlUrl: control?.url };
}

/** Created 0600 when missing; an existing file readable by group or others is refused. */
function ensureControlToken(path: string): string {
  return ensureSecretFile(path, undefined, 'control token file').value;
}
