import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { VERSION } from '../../functions/version.js';
import { UsageError } from './options.js';

// Commands load their modules on demand: `flows` should not pay for the AWS SDK.

const HELP = `wirefleet ${VERSION}

Usage:
  wirefleet dev                                  run the local stack (API, dynalite, s3rver)
  wirefleet token create --tenant NAME [--instance-id N]
                         [--stack NAME [--region R]] [--tenants-table NAME]
                                                 add a tenant or a further token for one;
                                                 --stack/--tenants-table: a deployed stack
                                                 (tables from its outputs, AWS credentials
                                                 from the standard chain)
  wirefleet token revoke [--stack NAME [--region R]] [--tenants-table NAME] < TOKEN_FILE
                                                 delete the token read from stdin (API
                                                 instances that cached it drop it within 30 s)
  wirefleet flows --read FILE [--format ndjson|csv|table] [--idle-timeout S]
                  [--active-timeout S] [--max-flows N]
                  [--export HOST:PORT[,HOST:PORT...]] [--netflow-version 5|10]
                                                 meter a pcap/pcapng file into flows;
                                                 --export also sends them as IPFIX (10,
                                                 default) or NetFlow v5 to collectors
  wirefleet capture --interface IF [--backend afpacket|libpcap] [--filter EXPR] [--seconds N]
                    [--write FILE] [--snaplen N] [--buffer-mb N] [--promiscuous]
                                                 capture live (AF_PACKET, needs CAP_NET_RAW)
                                                 into flows (ndjson); counters on stderr
  wirefleet pcap encrypt --key-file K [--cipher AES-256-GCM|AES-128-GCM|ChaCha20-Poly1305]
                        [--force] IN -o OUT
                                                 seal a file (a capture) as an evidence segment
  wirefleet pcap decrypt --key-file K [--manifest M [--manifest-key ID]] [--force] IN -o OUT
                                                 verify and decrypt one segment, or several
                                                 concatenated (joined into one pcap); OUT appears
                                                 only if everything verified. --manifest: the
                                                 JSON of GET /segments/download; its Ed25519
                                                 signature, size and every segment's SHA-256 are
                                                 checked first (ID pins the signing key)
  wirefleet pcap keygen -o K | wirefleet keygen --out K
                                                 a new random evidence master key file (0600)
  wirefleet agent init [--out FILE] [--id ID] [--mqtt-url URL] [--force]
                                                 write a commented starting agent config
  wirefleet agent register --id ID [--out FILE] [--api URL] [--mqtt-url URL]
                  [--interface IF | --file FILE] [--state-dir DIR] [--control-listen HOST:PORT]
                  [--password-login]
                                                 make the agent's key here (0600), send the API
                                                 only a CSR, write its certificate and a working
                                                 mqtts:// config (token from WIREFLEET_API_TOKEN);
                                                 --password-login: a password instead, for
                                                 brokers without TLS
  wirefleet agent rotate --config FILE [--api URL]
                                                 a new key here and a new certificate for it
                                                 (the old one is deactivated); then restart
                                                 the agent
  wirefleet agent run --config FILE [--allow-unsigned]
                                                 the agent daemon: capture, meter, spool, MQTT
  wirefleet agent status --config FILE           the running agent's status and metrics
                                                 (through its local control API)
  wirefleet agent install [--config PATH] [--dry-run] | agent uninstall [--dry-run]
                                                 the systemd unit wirefleet-agent.service
  wirefleet ingest redrive --queue-url URL | --stack NAME [--region R] [--max N] [--dry-run]
                                                 replay the ingest dead-letter queue into the
                                                 deployed store; deletes only what got stored
  wirefleet tango secret --out FILE              a new pair secret for two Tango sites (0600)
  wirefleet tango simulate --paths N --delay-ms a,b,.. --loss p,q,.. [--reorder x,y,..]
                  --seconds S [--rate PPS] [--write FILE]
                                                 host1 - tango1 - N impaired paths - tango2 -
                                                 host2 in network namespaces (root): prints
                                                 injected and measured delay, jitter, loss
                                                 and reordering per path as JSON (--rate:
                                                 datagrams/s on each path, default 500);
                                                 --write saves the tunnel frames as a pcap
  wirefleet help | --version

Environment: PORT (8000), HOST (127.0.0.1), WIREFLEET_DATA_DIR (.wirefleet),
WIREFLEET_API_TOKEN, DYNAMODB_ENDPOINT, S3_ENDPOINT, DYNAMODB_PORT (4567),
S3_PORT (4568), MQTT_PORT (1883), MQTTS_PORT (8883, agents' mTLS), MQTT_URL (an
external broker instead of aedes, with MQTT_INGEST_USERNAME / MQTT_INGEST_PASSWORD),
WIREFLEET_LOCAL_AGENT (on; off or replay), AGENT_CONTROL_PORT (8001, the local
agent's control API), PCAP_URL_TTL_SECONDS (300, at most 900), WIREFLEET_DRAIN_SECONDS
(10: how long a stop waits for requests in flight; a second Ctrl-C or SIGTERM stops at
once), LOG_LEVEL (info).
`;

const AGENT_USAGE =
  'usage: wirefleet agent init|register|rotate|run|status|install|uninstall ... (see wirefleet help)';

async function runAgentSubcommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const parse = <O extends Record<string, { type: 'string' | 'boolean' }>>(options: O) =>
    parseArgs({ args: rest, options, strict: true }).values;
  switch (sub) {
    case 'run': {
      const values = parse({ config: { type: 'string' }, 'allow-unsigned': { type: 'boolean' } });
      const code = await (await import('./agent.js')).runAgentCommand(values);
      // A daemon that has stopped (or never started) must exit, whatever handle a
      // library left open: systemd's restart policy depends on the exit code.
      // Exit once stdout (a pipe under systemd) has taken the last log lines.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(code);
      return code;
    }
    case 'status': {
      const values = parse({ config: { type: 'string' } });
      return (await import('./agent.js')).runAgentStatus(values);
    }
    case 'register': {
      const values = parse({
        id: { type: 'string' },
        out: { type: 'string' },
        api: { type: 'string' },
        'mqtt-url': { type: 'string' },
        interface: { type: 'string' },
        file: { type: 'string' },
        'state-dir': { type: 'string' },
        'control-listen': { type: 'string' },
        'password-login': { type: 'boolean' },
      });
      await (await import('./agent-register.js')).runAgentRegister(values);
      return 0;
    }
    case 'rotate': {
      const values = parse({ config: { type: 'string' }, api: { type: 'string' } });
      process.stdout.write(await (await import('./agent-rotate.js')).runAgentRotate(values));
      return 0;
    }
    case 'init': {
      const values = parse({
        out: { type: 'string' },
        id: { type: 'string' },
        'mqtt-url': { type: 'string' },
        force: { type: 'boolean' },
      });
      (await import('./agent-setup.js')).runAgentInit(values);
      return 0;
    }
    case 'install': {
      const values = parse({ config: { type: 'string' }, 'dry-run': { type: 'boolean' } });
      await (await import('./agent-setup.js')).runAgentInstall(values);
      return 0;
    }
    case 'uninstall': {
      const values = parse({ 'dry-run': { type: 'boolean' } });
      await (await import('./agent-setup.js')).runAgentUninstall(values);
      return 0;
    }
    default:
      throw new UsageError(AGENT_USAGE);
  }
}

/** Runs one CLI command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'dev':
        parseArgs({ args: rest, options: {}, strict: true });
        await (await import('./dev.js')).runDev();
        return 0;
      case 'token': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: {
            tenant: { type: 'string' },
            'instance-id': { type: 'string' },
            stack: { type: 'string' },
            region: { type: 'string' },
            'tenants-table': { type: 'string' },
          },
          allowPositionals: true,
          strict: true,
        });
        const token = await import('./token.js');
        if (positionals.length === 1 && positionals[0] === 'revoke') {
          if (values.tenant !== undefined || values['instance-id'] !== undefined) {
            throw new UsageError('token revoke takes the token on stdin, not --tenant');
          }
          return await token.runTokenRevoke(values, () => text(process.stdin));
        }
        if (positionals[0] !== 'create' || positionals.length !== 1) {
          throw new UsageError(
            'usage: wirefleet token create --tenant NAME [--instance-id N] [--stack NAME [--region R]] [--tenants-table NAME]\n       wirefleet token revoke [--stack NAME [--region R]] [--tenants-table NAME] < TOKEN_FILE',
          );
        }
        await token.runTokenCreate(values);
        return 0;
      }
      case 'flows': {
        const { values } = parseArgs({
          args: rest,
          options: {
            read: { type: 'string', short: 'r' },
            format: { type: 'string' },
            'idle-timeout': { type: 'string' },
            'active-timeout': { type: 'string' },
            'max-flows': { type: 'string' },
            export: { type: 'string', multiple: true },
            'netflow-version': { type: 'string' },
          },
          strict: true,
        });
        (await import('./flows.js')).runFlows(values);
        return 0;
      }
      case 'capture': {
        const { values } = parseArgs({
          args: rest,
          options: {
            interface: { type: 'string', short: 'i' },
            backend: { type: 'string' },
            filter: { type: 'string', short: 'f' },
            seconds: { type: 'string' },
            write: { type: 'string', short: 'w' },
            snaplen: { type: 'string', short: 's' },
            'buffer-mb': { type: 'string' },
            promiscuous: { type: 'boolean' },
          },
          strict: true,
        });
        await (await import('./capture.js')).runCapture(values);
        return 0;
      }
      case 'agent':
        return await runAgentSubcommand(rest);
      case 'pcap':
        return await (await import('./pcap-crypt.js')).runPcapCommand(rest);
      case 'tango':
        return await (await import('./tango.js')).runTangoCommand(rest);
      case 'keygen': {
        const { values } = parseArgs({
          args: rest,
          options: { out: { type: 'string', short: 'o' } },
          strict: true,
        });
        (await import('./pcap-crypt.js')).runKeygen(values);
        return 0;
      }
      case 'ingest': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: {
            'queue-url': { type: 'string' },
            stack: { type: 'string' },
            region: { type: 'string' },
            max: { type: 'string' },
            'dry-run': { type: 'boolean' },
          },
          allowPositionals: true,
          strict: true,
        });
        if (positionals[0] !== 'redrive' || positionals.length !== 1) {
          throw new UsageError(
            'usage: wirefleet ingest redrive --queue-url URL | --stack NAME [--region R] [--max N] [--dry-run]',
          );
        }
        return await (await import('./redrive.js')).runIngestRedrive(values);
      }
      case '--version':
      case 'version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}" (see wirefleet help)`);
    }
  } catch (error) {
    // Bad arguments, unreadable capture files, refused evidence (tampered, truncated, wrong key)
    // or key files, and missing AWS credentials exit 2; anything else 1.
    const isUsage =
      error instanceof UsageError ||
      (error as Error).name === 'MissingCredentialsError' ||
      (error as Error).name === 'CaptureFileError' ||
      (error as Error).name === 'EvidenceError' ||
      (error as Error).name === 'KeyFileError' ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`wirefleet: ${(error as Error).message}\n`);
    return isUsage ? 2 : 1;
  }
}
