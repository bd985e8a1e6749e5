import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { ExportRef } from './export-job.js';
import type { ExportRunner } from './export-runner.js';

/** Lambda did not accept the asynchronous invocation. */
export class ExportStartError extends Error {
  override readonly name = 'ExportStartError';
}

/**
 * Hands export jobs to the pcap-export Lambda (functions/handlers/pcap-export.ts)
 * with an asynchronous ('Event') invocation: Lambda queues the event and
 * answers 202 at once, so the API request returns long before the file is built.
 */
export class LambdaExportRunner implements ExportRunner {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  async start(ref: ExportRef): Promise<void> {
    let status: number | undefined;
    try {
      ({ StatusCode: status } = await this.client.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(ref)),
        }),
      ));
    } catch (error) {
      const name = (error as { name?: string }).name ?? 'Error';
      throw new ExportStartError(`could not invoke ${this.functionName}: ${name}`, {
        cause: error,
      });
    }
    if (status !== 202) {
      throw new ExportStartError(`${this.functionName} answered ${status} to an Event invocation`);
    }
  }
}

/** The Lambda runner when PCAP_EXPORT_FUNCTION names the function; undefined otherwise. */
export function lambdaExportRunnerFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: { region?: string; client?: LambdaClient } = {},
): LambdaExportRunner | undefined {
  const functionName = env.PCAP_EXPORT_FUNCTION?.trim();
  if (!functionName) return undefined;
  const client =
    options.client ??
    new LambdaClient({
      ...(options.region ? { region: options.region } : {}),
      maxAttempts: 3,
    });
  return new LambdaExportRunner(client, functionName);
}
