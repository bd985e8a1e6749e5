import { execFileSync } from 'node:child_process';

/**
 * Runs `ip ARGS` (iproute2) and returns its stdout. A failure throws what `fail` makes of one
 * line: the command and ip's own complaint, which says what was wrong better than an exit code.
 */
export function ipCommand(args: string[], fail: (message: string) => Error): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw fail(`ip ${args.join(' ')}: ${stderr || (error as Error).message}`);
  }
}
