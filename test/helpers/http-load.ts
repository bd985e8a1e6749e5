import http, { type IncomingHttpHeaders } from 'node:http';

/**
 * Clients for stop-under-load tests, on node:http so every outcome can be told
 * apart: an answer, a refused connection (the listener had closed), a
 * connection reset before any answer, or an answer cut half-way.
 *
 * A reset before any answer is what a client sees when its connection sat in
 * the listen backlog as the listener closed, or when a kept-alive socket was
 * closed as idle just as a request went out (the race HTTP clients retry). It
 * is also what a request cut in flight would look like, so tests pair this
 * count with the server's own count of requests it cut.
 */
export interface LoadTally {
  /** Answers by status. */
  statuses: Record<number, number>;
  /** ECONNREFUSED: the listener had closed. Expected once a stop begins. */
  refused: number;
  /** ECONNRESET/EPIPE before any byte of an answer. */
  resetBeforeAnswer: number;
  /** Answers 5xx (or another unexpected status), answers cut half-way, other errors. */
  failures: string[];
  /** Packet ids that POST /route answered 200. */
  acknowledged: string[];
}

export const newTally = (): LoadTally => ({
  statuses: {},
  refused: 0,
  resetBeforeAnswer: 0,
  failures: [],
  acknowledged: [],
});

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

class RequestFailedError extends Error {
  override readonly name = 'RequestFailedError';
  constructor(
    readonly code: string | undefined,
    /** Some of the answer had arrived. */
    readonly answered: boolean,
    message: string,
  ) {
    super(message);
  }
}

export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: http.Agent | false;
    /** Called once the whole request is on the wire. */
    onSent?: () => void;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', (e: NodeJS.ErrnoException) =>
          reject(new RequestFailedError(e.code, true, `answer cut: ${e.message}`)),
        );
        res.on('aborted', () =>
          reject(new RequestFailedError('ECONNRESET', true, 'answer cut (aborted)')),
        );
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(new RequestFailedError(e.code, false, e.message)),
    );
    req.end(options.body, () => options.onSent?.());
  });
}

/** Sends one request and files its outcome; returns the answer when there was one. */
export async function tallied(
  tally: LoadTally,
  what: string,
  run: () => Promise<Answer>,
  expected: number[] = [200],
): Promise<Answer | undefined> {
  try {
    const answer = await run();
    tally.statuses[answer.status] = (tally.statuses[answer.status] ?? 0) + 1;
    if (!expected.includes(answer.status)) {
      tally.failures.push(`${what}: ${answer.status} ${answer.body.toString().slice(0, 200)}`);
      return undefined;
    }
    return answer;
  } catch (error) {
    const e = error as RequestFailedError;
    if (e.code === 'ECONNREFUSED') tally.refused++;
    else if (!e.answered && (e.code === 'ECONNRESET' || e.code === 'EPIPE'))
      tally.resetBeforeAnswer++;
    else tally.failures.push(`${what}: ${e.code ?? ''} ${e.message}`);
    return undefined;
  }
}
