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
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { createLedgerTable, localDynamoDbClient, localS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from './emulators/clients.ts';
import { startDynamoDbLocal } from './emulators/dynamodb-local.ts';
import { startS3Emulator } from './emulators/s3-emulator.ts';
import { EventSourceMappingSim, generateStream, recordId, type Batch, type PartitionLog } from './stream.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE_EVENTS = ['msk.json', 'self-managed.json'].map((name) => join(ROOT, 'test', 'fixtures', 'events', name));
const BUCKET = 'msk-s3-sink-local';
const TABLE = 'msk-s3-sink-ledger';
const PREFIX = 'topics/';
const DEAD_LETTER_PREFIX = 'dead-letters/';
const MAX_ATTEMPTS = 3;
const COMPRESSIONS = ['gzip', 'zstd', 'none'] as const;
type Compression = (typeof COMPRESSIONS)[number];

const USAGE = `Usage: npm start -- [options]

Runs the real Lambda handler (functions/msk-sink/handler.ts) locally on the project's S3
emulator and DynamoDB Local (random loopback ports, no AWS, no Docker). By default it invokes
the handler with the sample events in test/fixtures/events/, then with a generated stream
delivered in batches by a simulated event source mapping (a batch is committed only after the
handler resolves, and delivered again if it fails), reads S3 and the ledger back, checks that
every record arrived exactly once, and prints what was delivered.

Options:
  --records N        records in the generated stream (default 5000)
  --topics N         topics in the generated stream (default 2)
  --partitions N     partitions per topic (default 3)
  --batch-size N     records per partition per batch, like the mapping's BatchSize (default 100)
  --compression C    gzip | zstd | none: sets SINK_COMPRESSION (default gzip)
  --keep DIR         keep the data on disk under DIR (must be new or empty): DIR/s3 (S3 emulator)
                     and DIR/dynamodb (DynamoDB Local); prints how to look at it afterwards
  --event FILE       invoke the handler once with the Lambda event in FILE (as
                     \`sam local invoke\` would), print its response or error; exit 1 on error
  -h, --help         print this help

Other SINK_* settings in the environment (e.g. SINK_ERRORS_TOLERANCE) reach the handler as set.
Exit codes: 0 delivered and verified, 1 a failed invocation or verification, 2 bad usage.`;

// ---------------------------------------------------------------------------------------------
// Options

class UsageError extends Error {}

interface Options {
  readonly records: number;
  readonly topics: number;
  readonly partitions: number;
  readonly batchSize: number;
  readonly compression: Compression;
  readonly keep: string | undefined;
  readonly event: { readonly file: string; readonly name: string; readonly body: unknown } | undefined;
}

/** Where the user ran `npm start` from (npm runs scripts in the package root). */
const userCwd = process.env['INIT_CWD'] ?? process.cwd();

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
        'batch-size': { type: 'string' },
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
  const integer = (name: string, raw: string | undefined, fallback: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > max) {
      throw new UsageError(`--${name}: expected an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const compression = values.compression ?? 'gzip';
  if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
    throw new UsageError(`--compression: expected one of ${COMPRESSIONS.join(', ')}, got ${JSON.stringify(compression)}`);
  }
  const options: Options = {
    records: integer('records', values.records, 5000, 10_000_000),
    topics: integer('topics', values.topics, 2, 100),
    partitions: integer('partitions', values.partitions, 3, 1000),
    batchSize: integer('batch-size', values['batch-size'], 100, 10_000),
    compression: compression as Compression,
    keep: values.keep === undefined ? undefined : await keepDirectory(values.keep),
    event: values.event === undefined ? undefined : await readEventFile(values.event),
  };
  if (options.event !== undefined) {
    const streamOptions = ['records', 'topics', 'partitions', 'batch-size'].filter((name) => values[name as keyof typeof values] !== undefined);
    if (streamOptions.length > 0) {
      throw new UsageError(`--event: cannot be combined with ${streamOptions.map((n) => `--${n}`).join(', ')} (they shape the generated stream)`);
    }
  }
  return options;
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
      return quoted === undefined ? message : `${quoted.split(' ')[0]}: ${/argument missing/.test(message) ? 'a value is required' : message}`;
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
  if (entries.length > 0) {
    throw new UsageError(`--keep ${raw}: ${dir} is not empty; local mode starts from an empty bucket and ledger, so give it a new directory`);
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
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) out(indent + row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
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

function lambdaContext(): Context {
  const deadline = Date.now() + 300_000;
  const requestId = randomUUID();
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'msk-s3-sink-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:msk-s3-sink-local',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/msk-s3-sink-local',
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

interface Stats {
  invocations: number;
  failed: number;
  records: number;
  /** Records of failed invocations (delivered again in a later one). */
  failedRecords: number;
  payloadBytes: number;
}

async function invoke(handler: Handler, event: unknown, stats: Stats): Promise<unknown> {
  const records = countRecords(event);
  stats.invocations++;
  try {
    const response = await handler(event, lambdaContext());
    stats.records += records;
    stats.payloadBytes += Buffer.byteLength(JSON.stringify(event));
    return response;
  } catch (err) {
    stats.failed++;
    stats.failedRecords += records;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// What went in: records by topic-partition, read loosely from events (the handler validates).

interface Expected {
  /** `topic-partition` → offset → the value as the sink must write it. */
  readonly partitions: Map<string, Map<number, unknown>>;
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

function expectFromLogs(expected: Expected, logs: readonly PartitionLog[]): void {
  for (const log of logs) for (const record of log.records) expectRecord(expected, record.topic, record.partition, record.offset, record.value);
}

function expectRecord(expected: Expected, topic: string, partition: number, offset: number, value: Buffer | null): void {
  const id = `${topic}-${partition}`;
  let offsets = expected.partitions.get(id);
  if (offsets === undefined) expected.partitions.set(id, (offsets = new Map()));
  offsets.set(offset, lineValue(value));
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

async function readBody(s3: S3Client, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const raw = Buffer.from(await got.Body!.transformToByteArray());
  const body = key.endsWith('.gz') ? gunzipSync(raw) : key.endsWith('.zst') ? zstdDecompressSync(raw) : raw;
  return body.toString('utf8');
}

interface LedgerEntry {
  readonly id: string;
  readonly generation: string;
  readonly committedOffset: string;
  readonly lastObjectKey: string;
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
  readonly ledgerMismatches: string[];
  readonly perPartition: Map<string, { expected: number; delivered: number }>;
  ok(): boolean;
}

/** Reads every object back, parses every line, and compares with what went in. */
async function verify(s3: S3Client, objects: readonly StoredObject[], expected: Expected, ledger: readonly LedgerEntry[]): Promise<Verification> {
  const seen = new Map<string, Set<number>>();
  const lines = new Map<string, number>();
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let valueMismatches = 0;
  for (const object of objects) {
    const text = await readBody(s3, object.key);
    let previous = -1;
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const line = JSON.parse(raw) as { topic: string; partition: number; offset: number; value: unknown };
      const id = `${line.topic}-${line.partition}`;
      delivered++;
      lines.set(id, (lines.get(id) ?? 0) + 1);
      if (line.offset <= previous) outOfOrder++;
      previous = line.offset;
      let offsets = seen.get(id);
      if (offsets === undefined) seen.set(id, (offsets = new Set()));
      if (offsets.has(line.offset)) duplicates++;
      offsets.add(line.offset);
      const want = expected.partitions.get(id);
      if (want === undefined || !want.has(line.offset)) unexpected++;
      else if (JSON.stringify(want.get(line.offset)) !== JSON.stringify(line.value)) valueMismatches++;
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
    if (entry?.committedOffset !== String(last)) ledgerMismatches.push(`${id}: ledger at ${entry?.committedOffset ?? 'none'}, last offset ${last}`);
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
    ledgerMismatches,
    perPartition,
    ok() {
      return delivered === total && duplicates + missing + unexpected + outOfOrder + valueMismatches + ledgerMismatches.length === 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The generated stream, through the simulated event source mapping

function progressReporter(total: number): { update(done: number, batches: number, final?: boolean): void } {
  const started = performance.now();
  const tty = process.stdout.isTTY === true;
  let lastDraw = 0;
  let nextStep = 0.1;
  return {
    update(done, batches, final = false) {
      const elapsed = (performance.now() - started) / 1000;
      const rate = elapsed > 0 ? Math.round(done / elapsed) : 0;
      const line = `  ${count(done)}/${count(total)} records  ${plural(batches, 'batch').replace('batchs', 'batches')}  ${count(rate)} records/s`;
      if (tty) {
        if (!final && performance.now() - lastDraw < 100) return;
        lastDraw = performance.now();
        process.stdout.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
      } else if (final || done / total >= nextStep) {
        while (done / total >= nextStep) nextStep += 0.1;
        if (!final || done / total < 1 || nextStep <= 1.05) out(line);
      }
    },
  };
}

async function runStream(handler: Handler, options: Options, stats: Stats, expected: Expected): Promise<void> {
  const logs = generateStream({ records: options.records, topics: options.topics, partitions: options.partitions });
  expectFromLogs(expected, logs);
  const mapping = new EventSourceMappingSim(logs, { batchSize: options.batchSize });
  const progress = progressReporter(options.records);
  let delivered = 0;
  let batches = 0;
  for (let batch: Batch | undefined = mapping.poll(); batch !== undefined; batch = mapping.poll()) {
    for (let attempt = 1; ; attempt++) {
      try {
        await invoke(handler, batch.event, stats);
        break;
      } catch (err) {
        if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
        out(`  batch ${batches + 1} failed (attempt ${attempt} of ${MAX_ATTEMPTS}): ${errorText(err)}`);
        if (attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    // The handler resolved: only now does the consumer group move on.
    mapping.commit(batch);
    delivered += batch.records;
    batches++;
    progress.update(delivered, batches);
  }
  progress.update(delivered, batches, true);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = await parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message} (see --help)\n`);
    return 2;
  }
  if (options === 'help') {
    out(USAGE);
    return 0;
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

  const s3 = localS3Client(s3Emulator.endpoint);
  const dynamoDb = localDynamoDbClient(dynamo.endpoint);
  stoppers.push(async () => {
    s3.destroy();
    dynamoDb.destroy();
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await createLedgerTable(dynamoDb, TABLE);

  const where = options.keep === undefined ? 'in memory' : `on disk, ${options.keep}`;
  table([
    ['S3 emulator', s3Emulator.endpoint, `bucket ${BUCKET}`, `(${where})`],
    ['DynamoDB Local', dynamo.endpoint, `table ${TABLE}`, `(${where}; started in ${seconds(dynamoMs)})`],
  ]);

  // The environment the handler reads at cold start: set before it is imported.
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_DEFAULT_PROFILE']) delete process.env[name];
  Object.assign(process.env, {
    SINK_BUCKET: BUCKET,
    LEDGER_TABLE: TABLE,
    SINK_PREFIX: PREFIX,
    SINK_DEAD_LETTER_PREFIX: DEAD_LETTER_PREFIX,
    SINK_COMPRESSION: options.compression,
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const settings = Object.keys(process.env)
    .filter((name) => name.startsWith('SINK_') || name === 'LEDGER_TABLE')
    .sort()
    .map((name) => `${name}=${process.env[name]}`);
  out(`  handler         functions/msk-sink/handler.ts  ${settings.join(' ')}`);
  let handler: Handler;
  try {
    handler = (await import('../functions/msk-sink/handler.ts')).handler as unknown as Handler;
  } catch (err) {
    process.stderr.write(`error: the handler failed to initialise: ${errorText(err)}\n`);
    return 1;
  }

  const ready = performance.now();
  const stats: Stats = { invocations: 0, failed: 0, records: 0, failedRecords: 0, payloadBytes: 0 };
  const expected: Expected = { partitions: new Map() };

  if (options.event !== undefined) {
    out();
    out(`Event ${options.event.name}: ${plural(countRecords(options.event.body), 'record')}`);
    try {
      const response = await invoke(handler, options.event.body, stats);
      out(`  response: ${JSON.stringify(response)}`);
      expectFromEvent(expected, options.event.body);
    } catch (err) {
      out(`  error: ${errorText(err)}`);
      return 1;
    }
  } else {
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
      } catch (err) {
        table(rows);
        out(`  ${file}: ${errorText(err)}`);
        return 1;
      }
    }
    table(rows);
    out();
    out(
      `Generated stream: ${plural(options.records, 'record')}, ${plural(options.topics, 'topic')} × ${plural(options.partitions, 'partition')}, ` +
        `batch size ${options.batchSize} per partition, JSON values`,
    );
    try {
      await runStream(handler, options, stats, expected);
    } catch (err) {
      out(`  gave up after ${MAX_ATTEMPTS} attempts: ${errorText(err)}`);
      return 1;
    }
  }

  // Read everything back.
  const invoked = performance.now();
  const objects = await listObjects(s3, PREFIX);
  const deadLetters = await listObjects(s3, DEAD_LETTER_PREFIX);
  const ledger = await readLedger(dynamoDb);
  const result = await verify(s3, objects, expected, ledger);
  const objectBytes = objects.reduce((n, o) => n + o.size, 0);
  const readBack = performance.now() - invoked;

  out();
  out('Summary');
  table([
    ['invocations', `${count(stats.invocations)} (${count(stats.invocations - stats.failed)} ok, ${count(stats.failed)} failed and retried)`],
    ['records in', `${count(stats.records)}${stats.failed > 0 ? ` (and ${count(stats.failedRecords)} in the failed invocations)` : ''}`],
    ['bytes in', `${size(stats.payloadBytes)} (event payloads of the successful invocations, JSON)`],
    ['objects written', `${count(objects.length)}, ${size(objectBytes)} (${options.compression})`],
    ['dead letters', count(deadLetters.length)],
  ]);

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
    out(`Sample: first 3 lines of ${sample.key}${options.compression === 'none' ? '' : ' (decompressed)'}`);
    for (const line of (await readBody(s3, sample.key)).split('\n').slice(0, 3)) if (line !== '') out(`  ${line}`);
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
