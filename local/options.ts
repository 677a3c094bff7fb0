/**
 * Local mode's command line: the fixed names of the run (bucket, table, prefixes), the usage text,
 * and the parsing and checking of every option (`npm start -- --help`). Nothing here starts
 * anything: a bad option or input file is reported before the emulators start (exit code 2).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InputFileError, readInputFile } from './input.ts';
import type { StartPosition } from '../testkit/kafka/mapping.ts';
import { VALUE_KINDS, type ValueKind } from '../testkit/kafka/generate.ts';
import type { PartitionLog } from '../testkit/kafka/records.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The sample events invoked first by default, as AWS documents them. */
export const SAMPLE_EVENTS = ['msk.json', 'self-managed.json'].map((name) => join(ROOT, 'test', 'fixtures', 'events', name));
/** The bucket, ledger table and prefixes of every local run (`npm run ops:local` reads the same). */
export const BUCKET = 'msk-s3-sink-local';
export const TABLE = 'msk-s3-sink-ledger';
export const PREFIX = 'topics/';
export const DEAD_LETTER_PREFIX = 'dead-letters/';
/** Consecutive polls that commit nothing before the run gives up (the real mapping retries until the records expire). */
export const MAX_ATTEMPTS = 10;
const COMPRESSIONS = ['gzip', 'zstd', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** `npm start -- --help`. */
export const USAGE = `Usage: npm start -- [options]

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

/** A bad option or input file: printed with a pointer to --help, exit code 2, nothing started. */
export class UsageError extends Error {}

interface GeneratorOptions {
  readonly records: number;
  readonly topics: number;
  readonly partitions: number;
  readonly recordBytes: number | undefined;
  readonly keySkew: number;
  readonly values: ValueKind;
  readonly seed: number;
}

/** Every option of a run, checked. */
export interface Options {
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
export const userCwd = process.env['INIT_CWD'] ?? process.cwd();

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

/** Parses and checks the command line (reading --input and --event files); 'help' for -h/--help. Throws UsageError. */
export async function parseOptions(argv: readonly string[]): Promise<Options | 'help'> {
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
