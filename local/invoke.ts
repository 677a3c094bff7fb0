/**
 * Local mode's invocations: the real handler called as Lambda would call it (one context per
 * invocation), with counts of what happened; under --chaos, abandoned and overlapping
 * invocations; the handler's own output (EMF metrics summed, logs hidden under --chaos); and the
 * delivery of a stream of records through the simulated event source mapping.
 */
import type { Context } from 'aws-lambda';
import type { Chaos } from './chaos.ts';
import { MAX_ATTEMPTS, type Options } from './options.ts';
import { clearLine, errorText, out, plural, progressReporter } from './output.ts';
import { batchItemFailures, EventSourceMappingSim, type Outcome, type SimBatch } from '../testkit/kafka/mapping.ts';
import { STREAM_EPOCH, type PartitionLog } from '../testkit/kafka/records.ts';
import { lambdaContext } from '../testkit/lambda-context.ts';
import { countRecords, type Expected, expectFromRecords } from '../testkit/verify-delivery.ts';

// ---------------------------------------------------------------------------------------------
// The handler, invoked as Lambda would

/** The handler's shape, as local mode calls it. */
export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The function local mode's invocations name (a 5-minute timeout, as the construct's default). */
const FUNCTION_NAME = 'msk-s3-sink-local';

/** What the invocations did, for the summary. */
export interface Stats {
  invocations: number;
  ok: number;
  /** Invocations that threw. */
  errors: number;
  /** Invocations abandoned mid-flight (--chaos). */
  crashes: number;
  /** Invocations that returned a partial batch response with failures. */
  partial: number;
  /** Records in invocations that resolved. */
  records: number;
  /** Records in invocations that threw or were abandoned (delivered again in a later one). */
  failedRecords: number;
  /** JSON event payloads of every invocation. */
  payloadBytes: number;
  /** Error name and message → how often. */
  readonly failures: Map<string, number>;
}

/** Counts at zero. */
export const newStats = (): Stats => ({
  invocations: 0,
  ok: 0,
  errors: 0,
  crashes: 0,
  partial: 0,
  records: 0,
  failedRecords: 0,
  payloadBytes: 0,
  failures: new Map(),
});

function noteFailure(stats: Stats, text: string): void {
  stats.failures.set(text, (stats.failures.get(text) ?? 0) + 1);
}

/** One invocation of a whole event (the sample events, --event): throws what the handler throws. */
export async function invoke(handler: Handler, event: unknown, stats: Stats): Promise<unknown> {
  const records = countRecords(event);
  stats.invocations++;
  stats.payloadBytes += Buffer.byteLength(JSON.stringify(event));
  try {
    const response = await handler(event, lambdaContext(FUNCTION_NAME, { timeoutMs: 300_000 }));
    stats.ok++;
    stats.records += records;
    return response;
  } catch (err) {
    stats.errors++;
    stats.failedRecords += records;
    noteFailure(stats, errorText(err));
    throw err;
  }
}

class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
}

/**
 * One invocation of a batch from the simulated mapping. Under --chaos it may be abandoned after
 * a few milliseconds (a crash): the mapping sees a failure, the handler goes on in the
 * background (kept in `zombies`, awaited before the read-back).
 */
async function invokeBatch(
  handler: Handler,
  batch: SimBatch,
  stats: Stats,
  chaos: Chaos | undefined,
  zombies: Set<Promise<unknown>>,
): Promise<Outcome> {
  stats.invocations++;
  stats.payloadBytes += batch.payloadBytes;
  const crashAfter = chaos?.crashAfter();
  const running = handler(batch.event, lambdaContext(FUNCTION_NAME, { timeoutMs: 300_000 })).then(
    (response): Outcome => ({ ok: true, response }),
    (error: unknown): Outcome => ({ ok: false, error }),
  );
  let outcome: Outcome;
  if (crashAfter === undefined) {
    outcome = await running;
  } else {
    let timer: NodeJS.Timeout | undefined;
    const crashed = new Promise<'crashed'>((r) => (timer = setTimeout(() => r('crashed'), crashAfter)));
    const first = await Promise.race([running, crashed]);
    clearTimeout(timer);
    if (first === 'crashed') {
      zombies.add(running);
      void running.finally(() => zombies.delete(running));
      stats.crashes++;
      stats.failedRecords += batch.records;
      noteFailure(stats, `SimulatedCrash: invocation abandoned after ${crashAfter} ms`.replace(/\d+ ms/, 'a few ms'));
      return { ok: false, error: new SimulatedCrash(`invocation abandoned after ${crashAfter} ms`) };
    }
    outcome = first;
  }
  if (!outcome.ok) {
    stats.errors++;
    stats.failedRecords += batch.records;
    noteFailure(stats, errorText(outcome.error));
  } else {
    stats.ok++;
    stats.records += batch.records;
    if ((batchItemFailures(outcome.response) ?? []).length > 0) {
      stats.partial++;
      noteFailure(stats, 'partial batch response (batchItemFailures)');
    }
  }
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// The handler's own output: Powertools EMF metrics (summed, for DuplicatesSkipped & co.) and logs

/** What the handler printed, captured: EMF metrics summed by name, log lines hidden (counted by level). */
export interface HandlerOutput {
  /** Metric name → sum over every EMF document the handler printed. */
  readonly metrics: Map<string, number>;
  /** Log lines by level that were not shown (--chaos hides them: the faults make many). */
  readonly hiddenLogs: Map<string, number>;
}

/**
 * Takes the handler's EMF documents off stdout (and, when `hideLogs`, its JSON log lines).
 * Powertools writes both through a Console on process.stdout, one write per document.
 */
export function captureHandlerOutput(hideLogs: boolean): HandlerOutput {
  const output: HandlerOutput = { metrics: new Map(), hiddenLogs: new Map() };
  const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string' && chunk.startsWith('{')) {
      let doc: Record<string, unknown> | undefined;
      try {
        doc = JSON.parse(chunk) as Record<string, unknown>;
      } catch {
        doc = undefined;
      }
      const aws = doc?.['_aws'] as { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> } | undefined;
      if (doc !== undefined && aws !== undefined) {
        for (const directive of aws.CloudWatchMetrics ?? []) {
          for (const { Name } of directive.Metrics ?? []) {
            const value = doc[Name];
            const sum = Array.isArray(value) ? value.reduce((n: number, v) => n + Number(v), 0) : Number(value);
            output.metrics.set(Name, (output.metrics.get(Name) ?? 0) + (Number.isFinite(sum) ? sum : 0));
          }
        }
        return true;
      }
      if (hideLogs && doc !== undefined && typeof doc['level'] === 'string') {
        output.hiddenLogs.set(doc['level'], (output.hiddenLogs.get(doc['level']) ?? 0) + 1);
        return true;
      }
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  return output;
}

/** How a stream's delivery went: batches, why they closed, virtual time taken, records before the start position. */
export interface StreamRun {
  readonly batches: number;
  readonly closedBy: Map<string, number>;
  readonly virtualMs: number;
  readonly skipped: number;
}

/**
 * Delivers `logs` through the simulated mapping. Without --chaos: poll, invoke, commit on
 * success, redeliver from the same position on failure. With it: some invocations are abandoned,
 * some batches get an overlapping twin invoked at the same time, redeliveries get other sizes.
 */
export async function runStream(
  handler: Handler,
  logs: readonly PartitionLog[],
  options: Options,
  stats: Stats,
  expected: Expected,
  chaos: Chaos | undefined,
): Promise<StreamRun> {
  const mapping = new EventSourceMappingSim(logs, {
    batchSize: options.batchSize,
    windowMs: options.windowMs,
    start: options.start,
    startTime: STREAM_EPOCH,
  });
  const records = mapping.expectedRecords();
  expectFromRecords(expected, records);
  const inLogs = logs.reduce((n, log) => n + log.records.length, 0);
  const progress = progressReporter(records.length);
  const zombies = new Set<Promise<unknown>>();
  const closedBy = new Map<string, number>();
  let delivered = 0;
  let batches = 0;
  let fruitless = 0;
  let redelivery = false;
  while (!mapping.drained) {
    const size = redelivery ? chaos?.redeliverySize(options.batchSize) : undefined;
    const batch = mapping.poll(size === undefined ? {} : { maxRecords: size });
    if (batch === undefined) break;
    const twinSize = chaos?.concurrentBatchSize(options.batchSize);
    const twin = twinSize === undefined ? undefined : mapping.poll({ maxRecords: twinSize });
    const polled = twin === undefined ? [batch] : [batch, twin];
    for (const b of polled) closedBy.set(b.reason, (closedBy.get(b.reason) ?? 0) + 1);
    const outcomes = await Promise.all(polled.map((b) => invokeBatch(handler, b, stats, chaos, zombies)));
    let committed = 0;
    polled.forEach((b, i) => {
      const outcome = outcomes[i]!;
      const completion = mapping.complete(b, outcome);
      committed += completion.committed;
      if (chaos === undefined && (completion.failed || completion.failedPartitions.size > 0)) {
        clearLine();
        const why = outcome.ok
          ? `partial batch response: ${[...completion.failedPartitions].map(([id, offset]) => `${id} from offset ${offset}`).join(', ')}`
          : errorText(outcome.error);
        out(`  batch ${b.id} failed (attempt ${fruitless + 1} of ${MAX_ATTEMPTS}): ${why}`);
      }
    });
    batches += polled.length;
    delivered += committed;
    progress.update(delivered, batches);
    redelivery = outcomes.some((o) => !o.ok || (batchItemFailures(o.response) ?? []).length > 0);
    fruitless = committed > 0 ? 0 : fruitless + 1;
    if (fruitless >= MAX_ATTEMPTS) {
      progress.update(delivered, batches, true);
      await Promise.allSettled([...zombies]);
      throw new Error(
        `no progress in ${MAX_ATTEMPTS} consecutive polls (positions: ${[...mapping.positions()].map(([id, o]) => `${id}@${o ?? 'end'}`).join(', ')})`,
      );
    }
  }
  progress.update(delivered, batches, true);
  // Abandoned invocations may still be writing: let them finish before anything is read back.
  if (zombies.size > 0) {
    out(`  waiting for ${plural(zombies.size, 'abandoned invocation')} still running in the background`);
    await Promise.allSettled([...zombies]);
  }
  return { batches, closedBy, virtualMs: mapping.now - STREAM_EPOCH, skipped: inLogs - records.length };
}
