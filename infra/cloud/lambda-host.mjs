// Runs one synthesized Lambda bundle the way the Lambda runtime does: its own
// Node process, the module imported once (init), then one event at a time.
// Plain JavaScript on purpose, so no TypeScript loader touches the bundle.
//
//   node infra/cloud/lambda-host.mjs <bundle index.mjs> [export name]
//
// Requests arrive on stdin and replies leave on fd 3, one JSON object per
// line, so whatever the function logs to stdout/stderr stays apart:
//   → {"id": 1, "event": {...}, "context": {...}}
//   ← {"ready": true, "initMs": 42.1}  (once, after the import)
//   ← {"id": 1, "ok": true, "result": ..., "durationMs": 3.2}
//   ← {"id": 1, "ok": false, "error": {"name": "...", "message": "..."}}
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [entry, exportName = 'handler'] = process.argv.slice(2);
const replies = createWriteStream('', { fd: 3 });
const reply = (message) => replies.write(`${JSON.stringify(message)}\n`);

const started = performance.now();
const module = await import(pathToFileURL(entry).href);
const handler = module[exportName];
if (typeof handler !== 'function') {
  reply({
    ready: false,
    error: { name: 'HandlerNotFound', message: `${entry} exports no ${exportName}` },
  });
  process.exit(1);
}
reply({ ready: true, initMs: performance.now() - started });

const noop = () => {};
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, event, context = {} } = JSON.parse(line);
  const t0 = performance.now();
  try {
    const result = await handler(event, {
      ...context,
      getRemainingTimeInMillis: () => context.remainingTimeMs ?? 30_000,
      done: noop,
      fail: noop,
      succeed: noop,
    });
    reply({ id, ok: true, result, durationMs: performance.now() - t0 });
  } catch (error) {
    reply({
      id,
      ok: false,
      error: { name: error?.name ?? 'Error', message: String(error?.message ?? error) },
      durationMs: performance.now() - t0,
    });
  }
}
// Like a frozen environment, open sockets (SDK keep-alive) do not keep it running.
replies.end(() => process.exit(0));
