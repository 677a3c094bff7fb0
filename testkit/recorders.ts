import type { SinkLogger, SinkMetrics } from '../lib/sink/sink.ts';

/** A logger that keeps what it was told, to assert on it. */
export class RecordingLogger implements SinkLogger {
  readonly entries: Array<{ level: string; message: string; extra: unknown[] }> = [];
  info(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: unknown[]): void {
    this.entries.push({ level: 'error', message, extra });
  }
  /** Everything logged, as one string. */
  text(): string {
    return JSON.stringify(this.entries);
  }
}

/** Metrics that add up what was emitted. */
export class RecordingMetrics implements SinkMetrics {
  readonly values = new Map<string, number>();
  addMetric(name: string, _unit: string, value: number): void {
    this.values.set(name, (this.values.get(name) ?? 0) + value);
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
}

/** A logger that drops everything (chaos runs). */
export const silentLogger: SinkLogger = { info() {}, warn() {}, error() {} };
/** Metrics that drop everything. */
export const silentMetrics: SinkMetrics = { addMetric() {} };
