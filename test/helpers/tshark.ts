import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs real tshark on a capture file; fails loudly when it is not installed. */
export async function tshark(file: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('tshark', ['-n', '-r', file, ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'tshark is not installed: run `npm test` as root or `apt-get install -y tshark`',
      );
    }
    throw error;
  }
}

/** One row per packet of the requested fields (tab-separated by tshark). */
export async function tsharkFields(
  file: string,
  fields: string[],
  filter?: string,
): Promise<string[][]> {
  const out = await tshark(file, [
    ...(filter ? ['-Y', filter] : []),
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=,',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}
