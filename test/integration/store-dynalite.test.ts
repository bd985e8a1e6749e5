import { DEFAULT_TABLES } from '../../functions/store/config.js';
import { DYNALITE_CREDENTIALS, startDynalite } from '../../infra/local/emulators.js';
import { describeStoreConformance } from '../helpers/store-conformance.js';

describeStoreConformance('dynalite', async () => {
  const dynalite = await startDynalite({ host: '127.0.0.1', port: 0 });
  return {
    config: {
      region: 'us-east-1',
      ...DEFAULT_TABLES,
      dynamoEndpoint: dynalite.endpoint,
      dynamoCredentials: DYNALITE_CREDENTIALS,
    },
    teardown: () => dynalite.close(),
  };
});
