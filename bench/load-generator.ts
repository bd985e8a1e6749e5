import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** What a load run sends and how it checks a 2xx body; plain data so it can cross to a worker thread. */
export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Request bodies, used round-robin (POST only). */
  bodies?: string[];
  expect: 'route-decision' | 'recent-10';
  workers: number;
  warmupMs: number;
  measureMs: number;
}

export interface LoadResult {
  /** Requests started inside the measuring window (all finished). */
  requests: number;
  seconds: number;
  latenciesMs: number[];
  non2xx: number;
  errors: number;
  firstFailure?: string;
  /** All 2xx answers, warm-up included. */
  ok2xxTotal: number;
  /** Measured completions per whole second of the window, to show how steady the rate was. */
  perSecond: number[];
}

const CHECKS: Record<LoadSpec['expect'], (body: string) => boolean> = {
  'route-decision': (body) => {
    const d = JSON.parse(body) as {
      selected_model?: unknown;
      lisp_packet?: { packet_id?: unknown };
    };
    return typeof d.selected_model === 'string' && typeof d.lisp_packet?.packet_id === 'string';
  },
  'recent-10': (body) => {
    const a = JSON.parse(body) as { count?: unknown; packets?: unknown[] };
    return a.count === 10 && a.packets?.length === 10;
  },
};

/**
 * Closed-loop load: `workers` loops each send one request with fetch (undici's
 * global keep-alive dispatcher), read the whole body, and send the next.
 * Requests started during warm-up are not measured; none start after the window.
 */
export async function closedLoop(spec: LoadSpec): Promise<LoadResult> {
  const check = CHECKS[spec.expect];
  const t0 = performance.now();
  const measureFrom = t0 + spec.warmupMs;
  const measureUntil = measureFrom + spec.measureMs;
  const result: LoadResult = {
    requests: 0,
    seconds: 0,
    latenciesMs: [],
    non2xx: 0,
    errors: 0,
    ok2xxTotal: 0,
    perSecond: [],
  };
  let lastDone = measureFrom;
  let sequence = 0;

  const worker = async () => {
    while (performance.now() < measureUntil) {
      const body = spec.bodies?.[sequence++ % spec.bodies.length];
      const start = performance.now();
      const measured = start >= measureFrom;
      let failure: string | undefined;
      try {
        const res = await fetch(spec.url, {
          method: spec.method,
          headers: spec.headers,
          ...(body !== undefined ? { body } : {}),
        });
        const text = await res.text();
        if (res.status >= 200 && res.status < 300) {
          result.ok2xxTotal++;
          if (!check(text)) failure = `unexpected 2xx body: ${text.slice(0, 200)}`;
        } else {
          if (measured) result.non2xx++;
          failure = `HTTP ${res.status}: ${text.slice(0, 200)}`;
        }
      } catch (error) {
        if (measured) result.errors++;
        failure = String(error);
      }
      const end = performance.now();
      if (failure) result.firstFailure ??= failure;
      if (measured) {
        result.requests++;
        result.latenciesMs.push(end - start);
        lastDone = Math.max(lastDone, end);
        const second = Math.floor((end - measureFrom) / 1000);
        if (second < spec.measureMs / 1000)
          result.perSecond[second] = (result.perSecond[second] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.workers }, worker));
  result.seconds = (lastDone - measureFrom) / 1000;
  return result;
}

/**
 * Runs closedLoop in a worker thread, so the client's CPU time does not come
 * out of the event loop that serves the API and runs the emulators.
 */
export function closedLoopInWorker(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // tsx's --import hook does not reach worker threads: register it there, then load this file.
    const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: spec });
    let settled = false;
    worker.once('message', (result: LoadResult) => {
      settled = true;
      resolve(result);
      // Keep-alive sockets would keep the thread alive.
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`load worker exited with code ${code} and no result`));
    });
  });
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const result = await closedLoop(workerData as LoadSpec);
  port.postMessage(result);
}
