import { parseArgs } from 'node:util';
import { API_VERSION } from '../../functions/api/app.js';
import { runDev } from './dev.js';
import { UsageError } from './options.js';
import { runTokenCreate } from './token.js';

const HELP = `wirefleet ${API_VERSION}

Usage:
  wirefleet dev                                  run the local stack (API, dynalite, s3rver)
  wirefleet token create --tenant NAME [--instance-id N]
                                                 add a tenant or a further token for one
  wirefleet help | --version

Environment: PORT (8000), HOST (127.0.0.1), WIREFLEET_DATA_DIR (.wirefleet),
WIREFLEET_API_TOKEN, DYNAMODB_ENDPOINT, S3_ENDPOINT, DYNAMODB_PORT (4567),
S3_PORT (4568), PCAP_URL_TTL_SECONDS (300, at most 900), LOG_LEVEL (info).
`;

/** Runs one CLI command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'dev':
        parseArgs({ args: rest, options: {}, strict: true });
        await runDev();
        return 0;
      case 'token': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { tenant: { type: 'string' }, 'instance-id': { type: 'string' } },
          allowPositionals: true,
          strict: true,
        });
        if (positionals[0] !== 'create' || positionals.length !== 1) {
          throw new UsageError('usage: wirefleet token create --tenant NAME [--instance-id N]');
        }
        await runTokenCreate(values);
        return 0;
      }
      case '--version':
      case 'version':
        process.stdout.write(`${API_VERSION}\n`);
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
    const isUsage =
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`wirefleet: ${(error as Error).message}\n`);
    return isUsage ? 2 : 1;
  }
}
