/**
 * Local mode (`npm start`): runs the real Lambda handler (functions/msk-sink/handler.ts) on the
 * project's own emulators (the S3 emulator and DynamoDB Local, on random loopback ports), feeds
 * it the sample events and a generated stream through a simulated event source mapping, then
 * reads S3 and the ledger back and checks that every record arrived exactly once.
 *
 * Nothing here can reach AWS: the handler's SDK clients are pointed at the emulators through
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB, with fake credentials.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { createLedgerTable, localDynamoDbClient, localS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from './emulators/clients.ts';
import { startDynamoDbLocal } from './emulators/dynamodb-local.ts';
import { checkPrerequisites, PrerequisiteError } from './emulators/prerequisites.ts';
import { startS3Emulator } from './emulators/s3-emulator.ts';
import { Chaos } from './chaos.ts';
import { startFaultProxy } from './emulators/fault-proxy.ts';
import { InputFileError, readInputFile } from './input.ts';
import { batchItemFailures, EventSourceMappingSim, type Outcome, type SimBatch, type StartPosition } from '../testkit/kafka/mapping.ts';
import { generateStream, VALUE_KINDS, type ValueKind } from '../testkit/kafka/generate.ts';
import { STREAM_EPOCH, type PartitionLog, type LogRecord } from '../testkit/kafka/records.ts';
import { lambdaContext } from '../testkit/lambda-context.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE_EVENTS = ['msk.json', 'self-managed.json'].map((name) => join(ROOT, 'test', 'fixtures', 'events', name));
const BUCKET = 'msk-s3-sink-local';
const TABLE = 'msk-s3-sink-ledger';
const PREFIX = 'topics/';
const DEAD_LETTER_PREFIX = 'dead-letters/';
/** Consecutive polls that commit nothing before the run gives up (the real mapping retries until the records expire). */
const MAX_ATTEMPTS = 10;
const COMPRESSIONS = ['gzip', 'zstd', 'none'] as const;
type Compression = (typeof COMPRESSIONS)[number];

const USAGE = `Usage: npm start -- [options]

Runs the real Lambda handler (functions/msk-sink/handler.ts) locally on the project's S3
emulator and DynamoDB Local (random loopback ports, no AWS, no Docker). By default it invokes
the handler with the sample events in test/fixtures/events/, then with a generated stream
delivered by a simulated event source mapping (in virtual time: batches close when full or when
the batching window has elapsed; a batch is committed only after the handler succeeds and
delivered again from the same position if it fails), reads S3 and the ledger back, checks that
every record arrived exactly once, and prints what was delivered.

Source (one of):
  (default)          the sample events, then a generated stream:
    --records N        records produced after the mapping starts (default 5000)
    --topics N         topics (default 2)
    --partitions N     partitions per topic (default 3); records go to partitions by key
                       (Kafka's default partitioner: murmur2 of the key)
    --record-bytes N   size of each value (JSON padded up to N; binary exactly N, default 128)
    --key-skew X       0 to 1 (default 0): 0 spreads records evenly over 1000 keys; towards 1
                       most records go to a few hot keys, hence to a few partitions
    --values V         json | binary | mixed (70 % JSON, 30 % binary) (default json)
    --seed N           the generator's seed (default 42)
  --input FILE       records from a JSON Lines file, one per line:
                     {"topic":"t","partition":0,"offset":5,"timestamp":1764115200000,
                      "key":"k","value":{...},"headers":{"name":"text"}}
                     only topic is required (see README, "Local mode")
  --event FILE       invoke the handler once with the Lambda event in FILE (as
                     \`sam local invoke\` would), print its response or error; exit 1 on error
Both sources:
  --backlog N        the first N records are in the topics before the mapping starts
                     (\`latest\` skips them) (default 0)
  --rate N           records produced per second, in virtual time (default: all at once)

Event source mapping (Kafka Connect names, as in the CDK connector configuration):
  --flush.size N     BatchSize: the most records per invocation, all partitions together
                     (1-10000, default 100; alias --batch-size)
  --offset.flush.interval.ms N
                     MaximumBatchingWindow: a batch closes when full or N virtual ms after it
                     opened (0-300000, whole seconds; default 500, Lambda's default)
  --consumer.auto.offset.reset P
                     where the new consumer group starts: earliest | latest | an ISO-8601
                     date-time or epoch ms (the first record at or after it) (default earliest)

Faults:
  --chaos            inject the fault model while the generated stream (or --input) is
                     delivered: throttling, 5xx and lost replies from S3 and DynamoDB, crashed
                     (abandoned) invocations, concurrent overlapping invocations, redelivery
                     with other boundaries; the summary shows lost and duplicated records
  --chaos-seed N     the chaos PRNG's seed (default 1)

Output:
  --compression C    gzip | zstd | none: sets SINK_COMPRESSION (default gzip)
  --keep DIR         keep the data on disk under DIR (new, empty, or kept by an earlier run, whose
                     bucket and ledger then carry on): DIR/s3 (S3 emulator) and DIR/dynamodb
                     (DynamoDB Local); prints how to look at it afterwards
  -h, --help         print this help

Other SINK_* settings in the environment (e.g. SINK_REPORT_BATCH_ITEM_FAILURES=true,
SINK_ERRORS_TOLERANCE) reach the handler as set.
Exit codes: 0 delivered and verified, 1 a failed invocation or verification (anything lost or
duplicated), 2 bad usage or a bad input file (nothing is started).`;

// ---------------------------------------------------------------------------------------------
// Options

class UsageError extends Error {}

interface GeneratorOptions {
  readonly records: number;
  readonly topics: number;
  readonly partitions: number;
  readonly recordBytes: number | undefined;
  readonly keySkew: number;
  readonly values: ValueKind;
  readonly seed: number;
}

interface Options {
  readonly generator: GeneratorOptions;
  readonly input: { readonly name: string; readonly logs: PartitionLog[] } | undefined;
  readonly backlog: number;
  readonly rate: number | undefined;
  readonly batchSize: number;
  readonly windowMs: number;
  readonly start: StartPosition;
  readonly startText: string;
  readonly chaos: { readonly seed: number } | undefined;
  readonly compression: Compression;
  readonly keep: string | undefined;
  readonly event: { readonly file: string; readonly name: string; readonly body: unknown } | undefined;
}

/** Where the user ran `npm start` from (npm runs scripts in the package root). */
const userCwd = process.env['INIT_CWD'] ?? process.cwd();

const GENERATOR_OPTIONS = ['records', 'topics', 'record-bytes', 'key-skew', 'values', 'seed'] as const;
const STREAM_OPTIONS = [
  ...GENERATOR_OPTIONS,
  'partitions',
  'backlog',
  'rate',
  'flush.size',
  'batch-size',
  'offset.flush.interval.ms',
  'consumer.auto.offset.reset',
  'chaos',
  'chaos-seed',
] as const;

async function parseOptions(argv: readonly string[]): Promise<Options | 'help'> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        records: { type: 'string' },
        topics: { type: 'string' },
        partitions: { type: 'string' },
        'record-bytes': { type: 'string' },
        'key-skew': { type: 'string' },
        values: { type: 'string' },
        seed: { type: 'string' },
        input: { type: 'string' },
        backlog: { type: 'string' },
        rate: { type: 'string' },
        'flush.size': { type: 'string' },
        'batch-size': { type: 'string' },
        'offset.flush.interval.ms': { type: 'string' },
        'consumer.auto.offset.reset': { type: 'string' },
        chaos: { type: 'boolean' },
        'chaos-seed': { type: 'string' },
        compression: { type: 'string' },
        keep: { type: 'string' },
        event: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
  const values = parsed.values;
  if (values.help) return 'help';
  const given = (name: string): boolean => values[name as keyof typeof values] !== undefined;
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values[name as keyof typeof values] as string | undefined;
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = (values[name as keyof typeof values] as string | undefined) ?? fallback;
    if (!(allowed as readonly string[]).includes(raw))
      throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw as T;
  };

  // Combinations first: they say what is wrong before any value is read.
  if (given('event')) {
    const conflicting = [...STREAM_OPTIONS, 'input'].filter(given);
    if (conflicting.length > 0) {
      throw new UsageError(
        `--event: cannot be combined with ${conflicting.map((n) => `--${n}`).join(', ')} (they shape a stream; --event invokes the handler once)`,
      );
    }
  }
  if (given('input')) {
    const conflicting = GENERATOR_OPTIONS.filter(given);
    if (conflicting.length > 0)
      throw new UsageError(
        `--input: cannot be combined with ${conflicting.map((n) => `--${n}`).join(', ')} (they shape the generated stream)`,
      );
  }
  if (given('flush.size') && given('batch-size'))
    throw new UsageError('--flush.size, --batch-size: the same setting (BatchSize); give one');
  if (given('chaos-seed') && !values.chaos) throw new UsageError('--chaos-seed: only with --chaos');

  let keySkew = 0;
  if (values['key-skew'] !== undefined) {
    keySkew = Number(values['key-skew']);
    if (!/^\d*\.?\d+$/.test(values['key-skew']) || !(keySkew >= 0 && keySkew <= 1)) {
      throw new UsageError(`--key-skew: expected a number from 0 to 1, got ${JSON.stringify(values['key-skew'])}`);
    }
  }
  let rate: number | undefined;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    if (!/^\d*\.?\d+$/.test(values.rate) || !(rate > 0 && rate <= 10_000_000)) {
      throw new UsageError(`--rate: expected records per second, a number above 0 (at most 10000000), got ${JSON.stringify(values.rate)}`);
    }
  }
  const windowMs = integer('offset.flush.interval.ms', 500, 0, 300_000);
  if (given('offset.flush.interval.ms') && windowMs % 1000 !== 0) {
    throw new UsageError(
      `--offset.flush.interval.ms: the batching window is set in whole seconds (as in the CDK configuration); use a multiple of 1000, got ${windowMs}`,
    );
  }
  const startText = values['consumer.auto.offset.reset'] ?? 'earliest';
  const start = startPosition(startText);
  const generator: GeneratorOptions = {
    records: integer('records', 5000, 1, 10_000_000),
    topics: integer('topics', 2, 1, 100),
    partitions: integer('partitions', 3, 1, 1000),
    recordBytes: given('record-bytes') ? integer('record-bytes', 0, 1, 1_000_000) : undefined,
    keySkew,
    values: oneOf('values', VALUE_KINDS, 'json'),
    seed: integer('seed', 42, 0, 2 ** 32 - 1),
  };
  const backlog = integer('backlog', 0, 0, 10_000_000);
  const batchSize = given('batch-size') ? integer('batch-size', 100, 1, 10_000) : integer('flush.size', 100, 1, 10_000);
  const compression = oneOf('compression', COMPRESSIONS, 'gzip');
  const chaos = values.chaos ? { seed: integer('chaos-seed', 1, 0, 2 ** 32 - 1) } : undefined;
  // Files last: reading them is the slowest check. Nothing has been started yet.
  const event = values.event === undefined ? undefined : await readEventFile(values.event);
  let input: Options['input'];
  if (values.input !== undefined) {
    if (values.input === '') throw new UsageError('--input: expected a file');
    try {
      const logs = await readInputFile(resolve(userCwd, values.input), values.input, { partitions: generator.partitions, backlog, rate });
      input = { name: values.input, logs };
    } catch (err) {
      if (err instanceof InputFileError)
        throw new UsageError(`--input ${values.input}: bad input, nothing was started:\n  ${err.problems.join('\n  ')}`);
      throw err;
    }
  }
  const keep = values.keep === undefined ? undefined : await keepDirectory(values.keep);
  return { generator, input, backlog, rate, batchSize, windowMs, start, startText, chaos, compression, keep, event };
}

/** `consumer.auto.offset.reset`: earliest | latest | an ISO-8601 date-time | epoch milliseconds. */
function startPosition(text: string): StartPosition {
  if (text === 'earliest') return { kind: 'earliest' };
  if (text === 'latest') return { kind: 'latest' };
  if (/^\d{1,15}$/.test(text)) return { kind: 'timestamp', ms: Number(text) };
  const ms = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `--consumer.auto.offset.reset: expected earliest, latest, an ISO-8601 date-time or epoch milliseconds, got ${JSON.stringify(text)}`,
    );
  }
  return { kind: 'timestamp', ms };
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? message)} (options start with --)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return quoted === undefined
        ? message
        : `${quoted.split(' ')[0]}: ${/argument missing/.test(message) ? 'a value is required' : message}`;
    default:
      return message;
  }
}

async function keepDirectory(raw: string): Promise<string> {
  if (raw === '') throw new UsageError('--keep: expected a directory');
  const dir = resolve(userCwd, raw);
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new UsageError(`--keep ${raw}: cannot use ${dir}: ${err.message}`);
  });
  // A directory a previous run kept (s3/ and dynamodb/ only) is used again: its bucket and ledger
  // carry on, as a deployed sink's would (this is how the replay walk-through redelivers).
  const kept = entries.length > 0 && entries.every((name) => name === 's3' || name === 'dynamodb');
  if (entries.length > 0 && !kept) {
    throw new UsageError(`--keep ${raw}: ${dir} is not empty and not a directory a previous local run kept; give a new directory`);
  }
  return dir;
}

async function readEventFile(raw: string): Promise<{ file: string; name: string; body: unknown }> {
  const file = resolve(userCwd, raw);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`--event ${raw}: cannot read ${file}: ${why}`);
  }
  try {
    return { file, name: raw, body: JSON.parse(text) as unknown };
  } catch (err) {
    throw new UsageError(`--event ${raw}: ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Output helpers

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const count = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
function table(rows: readonly (readonly string[])[], indent = '  '): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows)
    out(indent + row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}
const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

// ---------------------------------------------------------------------------------------------
// Resources: everything started is stopped, on success, on error and on SIGINT/SIGTERM.

const stoppers: Array<() => Promise<unknown>> = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write('\n');
    process.stderr.write(`${signal}: stopping the emulators\n`);
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

// ---------------------------------------------------------------------------------------------
// The handler, invoked as Lambda would

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The function local mode's invocations name (a 5-minute timeout, as the construct's default). */
const FUNCTION_NAME = 'msk-s3-sink-local';

interface Stats {
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

const newStats = (): Stats => ({
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
async function invoke(handler: Handler, event: unknown, stats: Stats): Promise<unknown> {
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

interface HandlerOutput {
  /** Metric name → sum over every EMF document the handler printed. */
  readonly metrics: Map<string, number>;
  /** Log lines by level that were not shown (--chaos hides them: the faults make many). */
  readonly hiddenLogs: Map<string, number>;
}

/**
 * Takes the handler's EMF documents off stdout (and, when `hideLogs`, its JSON log lines).
 * Powertools writes both through a Console on process.stdout, one write per document.
 */
function captureHandlerOutput(hideLogs: boolean): HandlerOutput {
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

// ---------------------------------------------------------------------------------------------
// What went in: records by topic-partition, read loosely from events (the handler validates).

interface Expected {
  /** `topic-partition` → offset → the record's value bytes (null: a tombstone). */
  readonly partitions: Map<string, Map<number, Buffer | null>>;
}

function countRecords(event: unknown): number {
  const records = (event as { records?: unknown } | null)?.records;
  if (typeof records !== 'object' || records === null) return 0;
  return Object.values(records).reduce((n: number, list) => n + (Array.isArray(list) ? list.length : 0), 0);
}

function expectFromEvent(expected: Expected, event: unknown): void {
  const records = (event as { records?: Record<string, unknown> }).records ?? {};
  for (const list of Object.values(records)) {
    for (const record of Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []) {
      const value = typeof record['value'] === 'string' ? Buffer.from(record['value'], 'base64') : null;
      expectRecord(expected, String(record['topic']), Number(record['partition']), Number(record['offset']), value);
    }
  }
}

function expectFromRecords(expected: Expected, records: readonly LogRecord[]): void {
  for (const record of records) expectRecord(expected, record.topic, record.partition, record.offset, record.value);
}

function expectRecord(expected: Expected, topic: string, partition: number, offset: number, value: Buffer | null): void {
  const id = `${topic}-${partition}`;
  let offsets = expected.partitions.get(id);
  if (offsets === undefined) expected.partitions.set(id, (offsets = new Map()));
  offsets.set(offset, value);
}

/** The value a JSON Lines line holds for these bytes: the JSON itself, else the text, else base64. */
function lineValue(value: Buffer | null): unknown {
  if (value === null) return null;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    return value.toString('base64');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading back: S3 and the ledger, with the raw SDK (none of the sink's code)

interface StoredObject {
  readonly key: string;
  readonly size: number;
}

async function listObjects(s3: S3Client, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const item of page.Contents ?? []) objects.push({ key: item.Key!, size: item.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

async function readBytes(s3: S3Client, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const raw = Buffer.from(await got.Body!.transformToByteArray());
  return key.endsWith('.gz') ? gunzipSync(raw) : key.endsWith('.zst') ? zstdDecompressSync(raw) : raw;
}

/** The object's format, by its key's extension (before compression). */
function formatOf(key: string): 'jsonl' | 'parquet' | 'raw' {
  if (/\.parquet$/.test(key)) return 'parquet';
  if (/\.bin(?:\.gz|\.zst)?$/.test(key)) return 'raw';
  return 'jsonl';
}

/** A record read back from an object or a dead letter. */
interface ReadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Whether it holds the value sent (the bytes of the record, null for a tombstone). */
  matches(sent: Buffer | null): boolean;
}

/** A Parquet object's rows, read with hyparquet (not the writer's code), as read records. */
async function parquetRecords(key: string, body: Buffer): Promise<ReadRecord[]> {
  if (body.byteLength === 0) return [];
  const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file, compressors })) as Array<Record<string, unknown>>;
  const topic = /([^/]+)\+\d+\+\d{20}(?:\+g\d+)?\.parquet$/.exec(key)?.[1] ?? '?';
  return rows.map((row) => {
    const columns = Object.fromEntries(Object.entries(row).filter(([name]) => !name.startsWith('kafka_')));
    return {
      topic,
      partition: Number(row['kafka_partition']),
      offset: Number(row['kafka_offset']),
      matches: (sent) => parquetValueMatches(sent, columns),
    };
  });
}

/** Bigints (INT64) as numbers, all the way down. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Date))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value ?? null;
}

/**
 * Whether a Parquet row's value columns hold the JSON object sent: every field in its column
 * (absent fields null), numbers as numbers, JSON and mixed-type columns as JSON text; a
 * tombstone is a row with every value column null.
 */
function parquetValueMatches(sent: Buffer | null, columns: Record<string, unknown>): boolean {
  const got = plain(columns) as Record<string, unknown>;
  if (sent === null) return Object.values(got).every((v) => v === null);
  const want = lineValue(sent);
  if (typeof want !== 'object' || want === null || Array.isArray(want)) return false;
  for (const name of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (!(name in got)) return false;
    const expected = (want as Record<string, unknown>)[name] ?? null;
    let actual = got[name];
    if (typeof actual === 'string' && typeof expected !== 'string' && expected !== null) {
      try {
        actual = JSON.parse(actual) as unknown;
      } catch {
        return false;
      }
    }
    if (!isDeepStrictEqual(expected, actual)) return false;
  }
  return true;
}

/** `SINK_RAW_SEPARATOR` as bytes (JSON string escapes), default a newline. */
function rawSeparator(): Buffer {
  const text = process.env['SINK_RAW_SEPARATOR'];
  return Buffer.from(text === undefined ? '\n' : (JSON.parse(`"${text.replace(/"/g, '\\"')}"`) as string), 'utf8');
}

/** Splits a raw-bytes body into its values (each followed by the separator). */
function rawValues(body: Buffer, separator: Buffer): Buffer[] | undefined {
  if (body.byteLength === 0) return [];
  if (!body.subarray(body.byteLength - separator.byteLength).equals(separator)) return undefined;
  const values: Buffer[] = [];
  let start = 0;
  while (start < body.byteLength) {
    const end = body.indexOf(separator, start);
    values.push(body.subarray(start, end));
    start = end + separator.byteLength;
  }
  return values;
}

/** The first 3 records of an object as text: JSON Lines lines, Parquet rows as JSON, raw values. */
async function sampleLines(s3: S3Client, key: string): Promise<string[]> {
  const body = await readBytes(s3, key);
  if (formatOf(key) === 'parquet') {
    if (body.byteLength === 0) return [];
    const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    const rows = (await parquetReadObjects({ file, compressors, rowEnd: 3 })) as Array<Record<string, unknown>>;
    return rows.map((row) => JSON.stringify(plain(row)));
  }
  if (formatOf(key) === 'raw') {
    return (rawValues(body, rawSeparator()) ?? [])
      .slice(0, 3)
      .map((value) => (isUtf8(value) ? value.toString('utf8') : `(binary, base64) ${value.toString('base64')}`));
  }
  return body
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .slice(0, 3);
}

async function readBody(s3: S3Client, key: string): Promise<string> {
  return (await readBytes(s3, key)).toString('utf8');
}

interface LedgerEntry {
  readonly id: string;
  readonly generation: string;
  readonly committedOffset: string;
  readonly lastObjectKey: string;
  /** Replays and skips (msk-s3-sink reset), oldest first. */
  readonly resets: ReadonlyArray<{ fromGeneration: number; fromOffset: number; toGeneration: number; toOffset: number }>;
}

async function readLedger(dynamoDb: DynamoDBClient): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let start: Record<string, AttributeValue> | undefined;
  const text = (value: AttributeValue | undefined): string => value?.N ?? value?.S ?? (value?.NULL ? '-' : '?');
  do {
    const page = await dynamoDb.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      entries.push({
        id: `${text(item['topic'])}-${text(item['partition'])}`,
        generation: text(item['generation']),
        committedOffset: text(item['committedOffset']),
        lastObjectKey: text(item['lastObjectKey']),
        resets: (item['resets']?.L ?? []).map((reset) => ({
          fromGeneration: Number(reset.M?.['fromGeneration']?.N),
          fromOffset: Number(reset.M?.['fromOffset']?.N),
          toGeneration: Number(reset.M?.['toGeneration']?.N),
          toOffset: Number(reset.M?.['toOffset']?.N),
        })),
      });
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return entries.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

interface Verification {
  readonly expected: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly unexpected: number;
  readonly outOfOrder: number;
  readonly valueMismatches: number;
  /** Lines of objects that a later generation replaced (after a reset): not counted. */
  readonly superseded: number;
  readonly ledgerMismatches: string[];
  readonly perPartition: Map<string, { expected: number; delivered: number }>;
  /** Decompressed JSON Lines bytes of every object. */
  readonly linesBytes: number;
  ok(): boolean;
}

/**
 * The rule a reader applies after replays (README, "Which objects are current"): a record counts
 * when its object's generation is the one whose window holds its offset — after the generation's
 * start, up to where the next generation took over (or, for the current one, its commit).
 */
function isCurrent(entry: LedgerEntry | undefined, generation: number, offset: number): boolean {
  if (entry === undefined || entry.resets.length === 0) return generation === 0 || entry === undefined;
  let start = -1;
  for (const reset of entry.resets) {
    if (reset.fromGeneration === generation) return offset > start && offset <= Math.min(reset.fromOffset, reset.toOffset);
    start = reset.toOffset;
  }
  return generation === Number(entry.generation) && offset > start;
}

/**
 * Reads every object back in its format (JSON Lines, Parquet, raw bytes) and every dead letter,
 * and compares with what went in: each record exactly once, in the data or the dead letters.
 */
async function verify(
  s3: S3Client,
  objects: readonly StoredObject[],
  deadLetters: readonly StoredObject[],
  expected: Expected,
  ledger: readonly LedgerEntry[],
): Promise<Verification> {
  const seen = new Map<string, Set<number>>();
  const lines = new Map<string, number>();
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let valueMismatches = 0;
  let superseded = 0;
  let linesBytes = 0;
  const generationOf = (key: string) => Number(/\+g(\d+)\.[^/]*$/.exec(key)?.[1] ?? 0);
  /** Counts one record read back; false when it is not current (superseded by a replay). */
  const tally = (generation: number, record: ReadRecord): boolean => {
    const id = `${record.topic}-${record.partition}`;
    if (
      !isCurrent(
        ledger.find((entry) => entry.id === id),
        generation,
        record.offset,
      )
    ) {
      superseded++;
      return false;
    }
    delivered++;
    lines.set(id, (lines.get(id) ?? 0) + 1);
    let offsets = seen.get(id);
    if (offsets === undefined) seen.set(id, (offsets = new Set()));
    if (offsets.has(record.offset)) duplicates++;
    offsets.add(record.offset);
    const want = expected.partitions.get(id);
    if (want === undefined || !want.has(record.offset)) unexpected++;
    else if (!record.matches(want.get(record.offset)!)) valueMismatches++;
    return true;
  };

  // Dead letters first: a raw-bytes object's range leaves out the offsets that went there.
  const deadLettered = new Set<string>();
  for (const object of deadLetters) {
    const doc = JSON.parse(await readBody(s3, object.key)) as { topic: string; partition: number; offset: number; value: string | null };
    const record: ReadRecord = {
      topic: doc.topic,
      partition: doc.partition,
      offset: doc.offset,
      matches: (sent) => doc.value === (sent === null ? null : sent.toString('base64')),
    };
    if (tally(generationOf(object.key), record)) deadLettered.add(`${doc.topic}-${doc.partition}@${doc.offset}`);
  }

  const separator = rawSeparator();
  for (const object of objects) {
    const generation = generationOf(object.key);
    const body = await readBytes(s3, object.key);
    linesBytes += body.byteLength;
    const format = formatOf(object.key);
    let records: ReadRecord[];
    if (format === 'parquet') {
      records = await parquetRecords(object.key, body);
    } else if (format === 'raw') {
      // Raw bytes hold values only: the object's metadata names its range; tombstones and dead
      // letters are not in it, so the values are the range's other offsets, in order.
      const meta = (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object.key }))).Metadata ?? {};
      const topic = meta['topic'] ?? '?';
      const partition = Number(meta['partition']);
      const id = `${topic}-${partition}`;
      const sent = expected.partitions.get(id) ?? new Map<number, Buffer | null>();
      const first = Number(meta['first-offset']);
      const last = Number(meta['last-offset']);
      const inRange = [...sent.keys()].filter((o) => o >= first && o <= last && !deadLettered.has(`${id}@${o}`)).sort((a, b) => a - b);
      const values = rawValues(body, separator);
      if (values === undefined) {
        valueMismatches++;
        continue;
      }
      records = [];
      const written = inRange.filter((o) => sent.get(o) !== null);
      // Tombstones are left out of raw bytes: the range accounts for them.
      for (const offset of inRange) if (sent.get(offset) === null) records.push({ topic, partition, offset, matches: () => true });
      values.forEach((value, i) => {
        const offset = written[i];
        if (offset === undefined) unexpected++;
        else records.push({ topic, partition, offset, matches: (want) => want?.equals(value) === true });
      });
      records.sort((a, b) => a.offset - b.offset);
    } else {
      const text = body.toString('utf8');
      records = text
        .split('\n')
        .filter((raw) => raw !== '')
        .map((raw) => {
          const line = JSON.parse(raw) as { topic: string; partition: number; offset: number; value: unknown };
          return {
            topic: line.topic,
            partition: line.partition,
            offset: line.offset,
            matches: (sent) => JSON.stringify(lineValue(sent)) === JSON.stringify(line.value),
          };
        });
    }
    let previous = -1;
    for (const record of records) {
      if (!tally(generation, record)) continue;
      if (record.offset <= previous) outOfOrder++;
      previous = record.offset;
    }
  }
  let total = 0;
  let missing = 0;
  const perPartition = new Map<string, { expected: number; delivered: number }>();
  const ledgerMismatches: string[] = [];
  for (const [id, offsets] of expected.partitions) {
    total += offsets.size;
    const got = seen.get(id) ?? new Set<number>();
    for (const offset of offsets.keys()) if (!got.has(offset)) missing++;
    perPartition.set(id, { expected: offsets.size, delivered: lines.get(id) ?? 0 });
    const last = Math.max(...offsets.keys());
    const entry = ledger.find((e) => e.id === id);
    if (entry?.committedOffset !== String(last))
      ledgerMismatches.push(`${id}: ledger at ${entry?.committedOffset ?? 'none'}, last offset ${last}`);
  }
  for (const [id, n] of lines) if (!perPartition.has(id)) perPartition.set(id, { expected: 0, delivered: n });
  return {
    expected: total,
    delivered,
    duplicates,
    missing,
    unexpected,
    outOfOrder,
    valueMismatches,
    superseded,
    ledgerMismatches,
    perPartition,
    linesBytes,
    ok() {
      return delivered === total && duplicates + missing + unexpected + outOfOrder + valueMismatches + ledgerMismatches.length === 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The generated stream, through the simulated event source mapping

/** A bar with percentage and ETA on a terminal; a line every 10 % otherwise (logs, CI). */
function progressReporter(total: number): { update(done: number, batches: number, final?: boolean): void } {
  const started = performance.now();
  const tty = process.stdout.isTTY === true;
  const width = 24;
  let lastDraw = 0;
  let nextStep = 0.1;
  return {
    update(done, batches, final = false) {
      const elapsed = (performance.now() - started) / 1000;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const share = total === 0 ? 1 : Math.min(1, done / total);
      const counts = `${count(done)}/${count(total)} records  ${plural(batches, 'batch').replace('batchs', 'batches')}  ${count(Math.round(rate))} records/s`;
      if (tty) {
        if (!final && performance.now() - lastDraw < 100) return;
        lastDraw = performance.now();
        const filled = Math.round(share * width);
        const eta = final || rate === 0 ? '' : `  ETA ${seconds(((total - done) / rate) * 1000)}`;
        const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
        process.stdout.write(`\r\x1b[2K  ${bar}  ${counts}${eta}${final ? '\n' : ''}`);
      } else if (final || share >= nextStep) {
        while (share >= nextStep) nextStep += 0.1;
        if (!final || share < 1 || nextStep <= 1.05) out(`  ${String(Math.floor(share * 100)).padStart(3)}%  ${counts}`);
      }
    },
  };
}

/** Clears a progress bar line on a terminal before another line is printed. */
const clearLine = (): void => void (process.stdout.isTTY && process.stdout.write('\r\x1b[2K'));

interface StreamRun {
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
async function runStream(
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

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = await parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}${err.message.includes('\n') ? '' : ' (see --help)'}\n`);
    return 2;
  }
  if (options === 'help') {
    out(USAGE);
    return 0;
  }
  try {
    // DynamoDB Local runs on Java: say what to install in one line rather than failing later.
    checkPrerequisites({ java: true });
  } catch (err) {
    if (!(err instanceof PrerequisiteError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  const started = performance.now();
  try {
    return await run(options, started);
  } finally {
    await stopAll();
  }
}

async function run(options: Options, started: number): Promise<number> {
  out(`msk-s3-sink local run (node ${process.version})`);
  // DynamoDB Local (a JVM) takes ~3 s to answer: start the S3 emulator meanwhile, and load the
  // handler's dependencies (none reads the environment on import; the handler itself does).
  const dynamoStarted = performance.now();
  const dynamoStarting = startDynamoDbLocal(options.keep === undefined ? {} : { dataDir: join(options.keep, 'dynamodb') }).then((d) => {
    stoppers.push(() => d.stop());
    return { dynamo: d, ms: performance.now() - dynamoStarted };
  });
  const preloading = Promise.all([
    import('@aws-lambda-powertools/logger/middleware'),
    import('@aws-lambda-powertools/metrics/middleware'),
    import('@middy/core'),
    import('../lib/index.ts'),
  ]).catch(() => undefined); // a failure shows up again, with its message, when the handler is imported
  const s3Emulator = await startS3Emulator(options.keep === undefined ? {} : { dataDir: join(options.keep, 's3') });
  stoppers.push(() => s3Emulator.stop());
  const { dynamo, ms: dynamoMs } = await dynamoStarting;
  await preloading;
  // Under --chaos the handler reaches DynamoDB Local through the fault proxy; the read-back does not.
  const chaos = options.chaos === undefined ? undefined : new Chaos(options.chaos.seed);
  const proxy = chaos === undefined ? undefined : await startFaultProxy({ target: dynamo.endpoint });
  if (proxy !== undefined) stoppers.push(() => proxy.stop());

  const s3 = localS3Client(s3Emulator.endpoint);
  const dynamoDb = localDynamoDbClient(dynamo.endpoint);
  stoppers.push(async () => {
    s3.destroy();
    dynamoDb.destroy();
  });
  const reused = await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).then(
    () => false,
    (error: Error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou' || options.keep === undefined) throw error;
      return true;
    },
  );
  await createLedgerTable(dynamoDb, TABLE).catch((error: Error) => {
    if (error.name !== 'ResourceInUseException' || !reused) throw error;
  });

  // A reused bucket holds earlier runs' objects: the summary reports what this run writes.
  const keptBefore = reused
    ? new Set([...(await listObjects(s3, PREFIX)), ...(await listObjects(s3, DEAD_LETTER_PREFIX))].map((o) => o.key))
    : new Set<string>();
  const where =
    options.keep === undefined ? 'in memory' : `on disk, ${options.keep}${reused ? ", reused: a previous run's bucket and ledger" : ''}`;
  table([
    ['S3 emulator', s3Emulator.endpoint, `bucket ${BUCKET}`, `(${where})`],
    ['DynamoDB Local', dynamo.endpoint, `table ${TABLE}`, `(${where}; started in ${seconds(dynamoMs)})`],
    ...(proxy === undefined
      ? []
      : [['fault proxy', proxy.endpoint, 'in front of DynamoDB Local', `(--chaos, seed ${options.chaos!.seed})`]]),
  ]);

  // The environment the handler reads at cold start: set before it is imported.
  for (const name of [
    'AWS_PROFILE',
    'AWS_SESSION_TOKEN',
    'AWS_ENDPOINT_URL',
    'AWS_DEFAULT_PROFILE',
    'POWERTOOLS_METRICS_DISABLED',
    'POWERTOOLS_DEV',
  ])
    delete process.env[name];
  Object.assign(process.env, {
    SINK_BUCKET: BUCKET,
    LEDGER_TABLE: TABLE,
    SINK_PREFIX: PREFIX,
    SINK_DEAD_LETTER_PREFIX: DEAD_LETTER_PREFIX,
    SINK_COMPRESSION: options.compression,
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: proxy?.endpoint ?? dynamo.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'WARN',
  });
  const settings = Object.keys(process.env)
    .filter((name) => name.startsWith('SINK_') || name === 'LEDGER_TABLE')
    .sort()
    .map((name) => `${name}=${process.env[name]}`);
  out(`  handler         functions/msk-sink/handler.ts  ${settings.join(' ')}`);
  // The handler's EMF metrics are summed for the summary, not printed; under --chaos its logs are counted, not printed.
  const handlerOutput = captureHandlerOutput(chaos !== undefined);
  let handler: Handler;
  try {
    handler = (await import('../functions/msk-sink/handler.ts')).handler as unknown as Handler;
  } catch (err) {
    process.stderr.write(`error: the handler failed to initialise: ${errorText(err)}\n`);
    return 1;
  }

  const ready = performance.now();
  const stats = newStats();
  const expected: Expected = { partitions: new Map() };
  let sourceRecords = 0;
  let sourceBytes = 0;
  const sourceOf = (records: Iterable<{ key: Buffer | null; value: Buffer | null }>): void => {
    for (const r of records) {
      sourceRecords++;
      sourceBytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
    }
  };
  const eventRecords = (event: unknown): Array<{ key: Buffer | null; value: Buffer | null }> =>
    Object.values((event as { records?: Record<string, unknown> }).records ?? {}).flatMap((list) =>
      (Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []).map((r) => ({
        key: typeof r['key'] === 'string' ? Buffer.from(r['key'], 'base64') : null,
        value: typeof r['value'] === 'string' ? Buffer.from(r['value'], 'base64') : null,
      })),
    );
  let streamRun: StreamRun | undefined;

  if (options.event !== undefined) {
    out();
    out(`Event ${options.event.name}: ${plural(countRecords(options.event.body), 'record')}`);
    try {
      const response = await invoke(handler, options.event.body, stats);
      out(`  response: ${JSON.stringify(response)}`);
      expectFromEvent(expected, options.event.body);
      sourceOf(eventRecords(options.event.body));
    } catch (err) {
      out(`  error: ${errorText(err)}`);
      return 1;
    }
  } else {
    let logs: PartitionLog[];
    if (options.input === undefined) {
      out();
      out('Sample events (test/fixtures/events)');
      const rows: string[][] = [];
      for (const file of SAMPLE_EVENTS) {
        const event = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const t0 = performance.now();
        try {
          const response = await invoke(handler, event, stats);
          const ms = `${Math.round(performance.now() - t0)} ms`;
          rows.push([basename(file), plural(countRecords(event), 'record'), 'ok', ms, JSON.stringify(response)]);
          expectFromEvent(expected, event);
          sourceOf(eventRecords(event));
        } catch (err) {
          table(rows);
          out(`  ${basename(file)}: ${errorText(err)}`);
          if (process.env['SINK_ERRORS_TOLERANCE'] !== 'all' && /cannot be written|PoisonRecord/.test(errorText(err))) {
            out(
              `  (a record the sink cannot write stops its partition with SINK_ERRORS_TOLERANCE=none; SINK_ERRORS_TOLERANCE=all sends it to the dead letters)`,
            );
          }
          return 1;
        }
      }
      table(rows);
      const g = options.generator;
      logs = generateStream({
        records: g.records,
        topics: g.topics,
        partitions: g.partitions,
        seed: g.seed,
        keySkew: g.keySkew,
        values: g.values,
        backlog: options.backlog,
        ...(g.recordBytes === undefined ? {} : { recordBytes: g.recordBytes }),
        ...(options.rate === undefined ? {} : { rate: options.rate }),
      });
      out();
      out(
        `Generated stream: ${plural(g.records, 'record')}${options.backlog > 0 ? ` (after a backlog of ${count(options.backlog)})` : ''}, ` +
          `${plural(g.topics, 'topic')} × ${plural(g.partitions, 'partition')}, ${g.values} values` +
          `${g.recordBytes === undefined ? '' : ` of ${size(g.recordBytes)}`}, key skew ${g.keySkew} (partitioned by murmur2 of the key)`,
      );
    } else {
      logs = options.input.logs;
      const total = logs.reduce((n, log) => n + log.records.length, 0);
      out();
      out(
        `Input ${options.input.name}: ${plural(total, 'record')} in ${plural(logs.length, 'partition')}${options.backlog > 0 ? ` (the first ${count(options.backlog)} are a backlog)` : ''}`,
      );
    }
    out(
      `Event source mapping: flush.size ${options.batchSize} (records per invocation), offset.flush.interval.ms ${options.windowMs}, ` +
        `consumer.auto.offset.reset ${options.startText}, ${options.rate === undefined ? 'all records produced at once' : `${count(options.rate)} records/s`} (virtual time)`,
    );
    if (chaos !== undefined) {
      out('Chaos: S3 and DynamoDB throttling, 5xx and lost replies; crashed, concurrent and re-cut invocations');
      s3Emulator.setFaults(chaos.s3Faults);
      proxy!.setFaults(chaos.dynamoFaults);
    }
    try {
      streamRun = await runStream(handler, logs, options, stats, expected, chaos);
    } catch (err) {
      out(`  gave up: ${errorText(err)}`);
      return 1;
    } finally {
      chaos?.disable();
      s3Emulator.setFaults(undefined);
      proxy?.setFaults(undefined);
    }
    sourceOf(logs.flatMap((log) => log.records));
    if (streamRun.skipped > 0)
      out(
        `  ${plural(streamRun.skipped, 'record')} before the start position (${options.startText}) not delivered, as a new consumer group would`,
      );
  }

  // Read everything back.
  const invoked = performance.now();
  const objects = await listObjects(s3, PREFIX);
  const deadLetters = await listObjects(s3, DEAD_LETTER_PREFIX);
  const ledger = await readLedger(dynamoDb);
  const result = await verify(s3, objects, deadLetters, expected, ledger);
  const objectBytes = objects.reduce((n, o) => n + o.size, 0);
  const newObjects = objects.filter((o) => !keptBefore.has(o.key));
  const newObjectBytes = newObjects.reduce((n, o) => n + o.size, 0);
  const newDeadLetters = deadLetters.filter((o) => !keptBefore.has(o.key));
  const keptObjects = objects.length - newObjects.length;
  const keptNote = keptObjects > 0 ? ` (${count(keptObjects)} kept from earlier runs)` : '';
  const readBack = performance.now() - invoked;
  const metric = (name: string): string => (handlerOutput.metrics.has(name) ? count(handlerOutput.metrics.get(name)!) : '?');

  out();
  out('Summary');
  const failedTotal = stats.errors + stats.crashes + stats.partial;
  const failedDetail = [
    stats.errors > 0 ? plural(stats.errors, 'error') : '',
    stats.crashes > 0 ? plural(stats.crashes, 'crash').replace('crashs', 'crashes') : '',
    stats.partial > 0 ? `${count(stats.partial)} partial` : '',
  ].filter((x) => x !== '');
  table([
    [
      'invocations',
      `${count(stats.invocations)} (${count(stats.ok - stats.partial)} ok, ${count(failedTotal)} failed and retried${failedDetail.length > 0 ? `: ${failedDetail.join(', ')}` : ''})`,
    ],
    ...(streamRun === undefined
      ? []
      : [
          [
            'batches',
            `${count(streamRun.batches)} (closed: ${[...streamRun.closedBy].map(([why, n]) => `${count(n)} ${why}`).join(', ')}; ${seconds(streamRun.virtualMs)} of virtual time)`,
          ],
        ]),
    [
      'records in',
      `${count(sourceRecords)} from the source, ${count(result.expected)} to deliver; ${count(stats.records + stats.failedRecords)} handed to the handler (redeliveries included)`,
    ],
    ['bytes in', `${size(sourceBytes)} of keys and values; ${size(stats.payloadBytes)} of event payloads (JSON)`],
    ['records out', `${count(result.delivered)} lines in S3`],
    ['bytes out', `${size(objectBytes)} in objects (${options.compression}), ${size(result.linesBytes)} decompressed`],
    ['objects written', `${count(newObjects.length)}, ${size(newObjectBytes)} (${options.compression})${keptNote}`],
    [
      'duplicates skipped',
      `${metric('DuplicatesSkipped')} (records the handler received again and dropped, per its DuplicatesSkipped metric; ${metric('ObjectsAdopted')} objects adopted)`,
    ],
    [
      'dead letters',
      `${count(newDeadLetters.length)}${deadLetters.length > 0 ? ` (s3://${BUCKET}/${DEAD_LETTER_PREFIX}${deadLetters.length > newDeadLetters.length ? `; ${count(deadLetters.length - newDeadLetters.length)} kept from earlier runs` : ''})` : ''}`,
    ],
  ]);
  if (stats.failures.size > 0) {
    out();
    out('Failed invocations, by cause');
    table(
      [...stats.failures]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([text, n]) => [String(n), text.length > 150 ? `${text.slice(0, 150)}…` : text]),
    );
  }
  if (chaos !== undefined) {
    out();
    out(`Faults injected (--chaos-seed ${options.chaos!.seed}): ${count(chaos.total())}`);
    table([...chaos.injected].sort((a, b) => a[0].localeCompare(b[0])).map(([name, n]) => [name, count(n)]));
    const hidden = [...handlerOutput.hiddenLogs].map(([level, n]) => `${count(n)} ${level}`).join(', ');
    if (hidden !== '') out(`  (the handler's log lines are not shown under --chaos: ${hidden})`);
  }

  out();
  out(`Ledger (DynamoDB table ${TABLE})`);
  table([
    ['topic-partition', 'generation', 'committed offset', 'last object key'],
    ...ledger.map((e) => [e.id, e.generation, e.committedOffset, e.lastObjectKey]),
  ]);

  const shown = objects.slice(0, 5);
  out();
  out(`Objects (first ${shown.length} of ${count(objects.length)}, s3://${BUCKET}/${PREFIX})`);
  const rows = [['key', 'size', 'records', 'offsets', 'generation', 'content-type']];
  for (const object of shown) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object.key }));
    const meta = head.Metadata ?? {};
    rows.push([
      object.key,
      size(object.size),
      meta['record-count'] ?? '?',
      `${meta['first-offset'] ?? '?'}-${meta['last-offset'] ?? '?'}`,
      meta['generation'] ?? '?',
      head.ContentType ?? '-',
    ]);
  }
  table(rows);

  const sample = objects.find((o) => o.key.includes('/sim.')) ?? objects[0];
  if (sample !== undefined) {
    out();
    out(
      `Sample: first 3 ${formatOf(sample.key) === 'parquet' ? 'rows' : 'lines'} of ${sample.key}${options.compression === 'none' || formatOf(sample.key) === 'parquet' ? '' : ' (decompressed)'}`,
    );
    for (const line of await sampleLines(s3, sample.key)) out(`  ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`);
  }

  out();
  out('Verification (every object listed, fetched, decompressed and parsed; compared with what went in)');
  table([
    ['topic-partition', 'expected', 'delivered'],
    ...[...result.perPartition]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([id, n]) => [id, String(n.expected), String(n.delivered)]),
  ]);
  out(`records delivered: ${result.delivered} (expected ${result.expected}), duplicates: ${result.duplicates}`);
  out(
    `missing: ${result.missing}, unexpected: ${result.unexpected}, out of order: ${result.outOfOrder}, ` +
      `values differing: ${result.valueMismatches}, ledger mismatches: ${result.ledgerMismatches.length}`,
  );
  for (const mismatch of result.ledgerMismatches) out(`  ${mismatch}`);
  if (result.superseded > 0) out(`superseded by a replay (not counted): ${result.superseded} line(s) of earlier generations`);
  out(`lost: ${result.missing}, duplicated: ${result.duplicates}`);
  const ok = result.ok();
  out(ok ? 'OK: every record delivered exactly once' : 'FAILED: the delivered records do not match the input');

  if (options.keep !== undefined) {
    await stopAll(); // flushes the S3 emulator's disk writes and closes DynamoDB Local's database
    await printKept(options.keep, sample?.key, options.compression);
  }
  out();
  out(
    `wall time ${seconds(performance.now() - started)} (start-up ${seconds(ready - started)}, of which DynamoDB Local ${seconds(dynamoMs)}; ` +
      `invocations ${seconds(invoked - ready)}; read-back and check ${seconds(readBack)})`,
  );
  return ok ? 0 : 1;
}

async function printKept(dir: string, sampleKey: string | undefined, compression: Compression): Promise<void> {
  const objectsDir = join(dir, 's3', 'buckets', BUCKET, 'objects');
  const dynamoFiles = await readdir(join(dir, 'dynamodb')).catch(() => [] as string[]);
  out();
  out(`Kept in ${dir}:`);
  out(`  ${join(dir, 's3')}        the S3 emulator's data: objects/<sha256(key)>.json holds an object's key and metadata,`);
  out(`  ${' '.repeat(join(dir, 's3').length)}        its "bodyFile" (*.bin) the stored bytes`);
  out(`  ${join(dir, 'dynamodb')}  DynamoDB Local's database (${dynamoFiles.join(', ') || 'empty'})`);
  if (sampleKey === undefined) return;
  const base = createHash('sha256').update(sampleKey, 'utf8').digest('hex');
  const sidecar = JSON.parse(await readFile(join(objectsDir, `${base}.json`), 'utf8')) as { bodyFile: string };
  const body = join(objectsDir, sidecar.bodyFile);
  const cat = compression === 'gzip' ? 'zcat' : compression === 'zstd' ? 'zstd -dc' : 'cat';
  out('Look at it:');
  out(`  grep -ho '"key":"[^"]*"' ${objectsDir}/*.json | sort          # every object key`);
  out(`  grep -l '"key":"${sampleKey}"' ${objectsDir}/*.json   # an object's sidecar`);
  out(`  ${cat} ${body} | head -3`);
  out(`  sqlite3 ${join(dir, 'dynamodb', 'shared-local-instance.db')} 'select cast(ObjectJSON as text) from "${TABLE}"'   # the ledger`);
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);
