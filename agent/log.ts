import { appendFileSync } from 'node:fs';

/**
 * The agent's structured JSON-lines log (stdout; journald keeps it under
 * systemd), and its audit trail: one line per control action, also appended
 * to an audit file when one is configured.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AgentLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /**
   * A control action: who asked (control API, cloud command, CLI), what they
   * asked for, and the outcome. Always written, whatever the level.
   */
  audit(action: string, entry: AuditEntry): void;
}

export interface AuditEntry {
  /** "control-api", "cloud:<command id>", "config"... */
  actor: string;
  outcome: 'ok' | 'refused' | 'failed';
  interface?: string | undefined;
  filter?: string | undefined;
  /** PCAP segment encryption; false until segments are encrypted (a later issue). */
  encryption?: boolean;
  [field: string]: unknown;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface AgentLoggerOptions {
  level?: LogLevel;
  /** Extra fields on every line (agent_id). */
  base?: Record<string, unknown>;
  /** Audit lines are also appended here (mode 0600). */
  auditFile?: string | undefined;
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
}

export function createAgentLogger(options: AgentLoggerOptions = {}): AgentLogger {
  const threshold = ORDER[options.level ?? 'info'] ?? ORDER.info;
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const line = (level: LogLevel | 'audit', msg: string, fields: Record<string, unknown>) =>
    `${JSON.stringify({ time: new Date().toISOString(), level, component: 'agent', ...options.base, msg, ...fields })}\n`;
  const at =
    (level: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[level] >= threshold) write(line(level, msg, fields));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    audit(action, entry) {
      const text = line('audit', action, { audit: true, action, ...entry });
      write(text);
      if (options.auditFile) {
        try {
          appendFileSync(options.auditFile, text, { mode: 0o600 });
        } catch (error) {
          write(line('error', 'audit file not writable', { error: (error as Error).message }));
        }
      }
    },
  };
}

/** Drops everything (unit tests). */
export const silentAgentLogger: AgentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  audit() {},
};
