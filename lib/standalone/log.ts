/**
 * Structured logs for the standalone worker: one JSON object per line on stderr, with the same
 * fields as the Lambda function's Powertools logs (`level`, `message`, `timestamp`, `service`),
 * and, on a terminal, a status line kept at the bottom (records/s, lag, partitions).
 */
import { SERVICE_NAME, type SinkLogger } from '../sink/sink.ts';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export interface WorkerLogger extends SinkLogger {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
}

export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The level from `POWERTOOLS_LOG_LEVEL` or `LOG_LEVEL` (INFO by default). */
export function logLevelFrom(env: Readonly<Record<string, string | undefined>>): LogLevel {
  const value = (env['POWERTOOLS_LOG_LEVEL'] ?? env['LOG_LEVEL'] ?? 'INFO').toUpperCase();
  return value in ORDER ? (value as LogLevel) : value === 'WARNING' ? 'WARN' : 'INFO';
}

/** The terminal's status line: redrawn in place; logs are written above it. */
export class StatusLine {
  readonly #out: TextSink;
  #text = '';
  constructor(out: TextSink) {
    this.#out = out;
  }
  get enabled(): boolean {
    return this.#out.isTTY === true;
  }
  show(text: string): void {
    if (!this.enabled) return;
    this.#text = text;
    this.#out.write(`\r\x1b[2K${text}`);
  }
  /** Writes a whole line above the status line. */
  writeAbove(line: string): void {
    if (this.enabled && this.#text !== '') this.#out.write(`\r\x1b[2K${line}${this.#text}`);
    else this.#out.write(line);
  }
  clear(): void {
    if (this.enabled && this.#text !== '') this.#out.write('\r\x1b[2K');
    this.#text = '';
  }
}

export function createJsonLogger(options: {
  readonly out: TextSink;
  readonly level: LogLevel;
  readonly fields?: Record<string, unknown>;
  readonly status?: StatusLine;
  readonly now?: () => number;
}): WorkerLogger {
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, message: string, extra: Array<Record<string, unknown>>): void => {
    if (ORDER[level] < ORDER[options.level]) return;
    const line = `${JSON.stringify(
      Object.assign({ level, message, timestamp: new Date(now()).toISOString(), service: SERVICE_NAME }, options.fields, ...extra),
      (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
    )}\n`;
    if (options.status) options.status.writeAbove(line);
    else options.out.write(line);
  };
  return {
    debug: (message, ...extra) => write('DEBUG', message, extra),
    info: (message, ...extra) => write('INFO', message, extra),
    warn: (message, ...extra) => write('WARN', message, extra),
    error: (message, ...extra) => write('ERROR', message, extra),
  };
}

/** An error as log fields (name, message, code; never record contents). */
export function errorFields(error: unknown): Record<string, unknown> {
  const e = error as Error & { code?: unknown; apiId?: unknown; errors?: unknown };
  const nested = Array.isArray(e?.errors)
    ? (e.errors as Error[]).slice(0, 3).map((inner) => `${inner?.name}: ${inner?.message}`)
    : undefined;
  return {
    error: {
      name: e?.name ?? 'Error',
      message: e?.message ?? String(error),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.apiId === 'string' ? { apiId: e.apiId } : {}),
      ...(nested ? { errors: nested } : {}),
    },
  };
}
