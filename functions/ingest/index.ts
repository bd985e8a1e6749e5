export {
  type DecodeResult,
  decodeUplink,
  describeIssues,
  findUnstorable,
  MAX_STORED_DEPTH,
  type UplinkMessage,
} from './decode.js';
export {
  createIngestDeps,
  type IngestDeps,
  type IngestOutcome,
  ingestMessage,
  isRetryable,
  storeRefusal,
} from './ingest.js';
export { type IoTRuleEvent, parseIoTRuleEvent } from './iot-event.js';
