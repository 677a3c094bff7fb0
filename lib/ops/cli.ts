/**
 * The operations command line: `msk-s3-sink <command>`. Reads the ledger and the bucket,
 * reconciles them, and resets or replays partitions. Kafka Connect's offset management
 * (KIP-875: stop the connector, alter or reset its offsets, resume) is the model.
 *
 * The ledger is the DynamoDB table (`--table`, `LEDGER_TABLE`) or a standalone worker's ledger
 * file (`--ledger-file`, `LEDGER_FILE`); the commands see both through `LedgerAdminPort`.
 * `--config FILE` takes the bucket, the prefixes, the layout and the ledger from a standalone
 * worker's own configuration file instead of the `SINK_*` variables; flags still win over it.
 *
 * Works against real AWS with the default credential chain, and against the local emulators
 * through the standard `AWS_ENDPOINT_URL*` variables.
 */
import {
  createDynamoDbClient,
  createLambdaClient,
  createS3Client,
  type DynamoDBClient,
  type LambdaClient,
  type S3Client,
} from '../aws/operations-clients.ts';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3ObjectStore } from '../aws/s3-object-store.ts';
import { loadConfig } from '../config/config.ts';
import { OperationError, SinkError } from '../core/errors.ts';
import { closestName } from '../config/suggest.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout } from '../layout/layout.ts';
import { ledgerEntryFields } from '../core/ports.ts';
import { readWorkerStorageFile, StandaloneConfigError, type WorkerStorage } from '../config/worker-config.ts';
import { LedgerLockedError } from '../ledger/file-ledger.ts';
import { FileLedgerAdmin } from '../ledger/file-ledger-admin.ts';
import { type AwsCallerLookup, defaultOperator, stsCallerLookup } from '../aws/caller.ts';
import { catalog, type CatalogedObject } from '../manifest/catalog.ts';
import { createKafkaAdmin, type KafkaAdmin, type KafkaSecurity } from '../kafka/kafka-admin.ts';
import { LedgerAdmin } from '../aws/dynamodb-ledger-admin.ts';
import type { LedgerAdminPort } from '../ledger/admin.ts';
import { LambdaMappings } from '../aws/lambda-mappings.ts';
import { locateOffset, locateTimestamp } from './locate.ts';
import { manifestLayoutProblem, writeDueManifests } from '../manifest/manifest.ts';
import { IamRolePolicies } from '../aws/iam-policy.ts';
import {
  assertReadsTopic,
  invocationsDrained,
  newGroupAccessCheck,
  type ResetTarget,
  replayInPlace,
  replayWithNewGroup,
  resolveTarget,
} from './replay.ts';
import { applyReset, planReset, type ResetStep } from './reset.ts';
import { deleteObjectBatch, S3Inventory } from '../aws/s3-inventory.ts';
import { reconcile } from './verify.ts';

/** Where the command line writes, and what it knows of its terminal. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly now: () => number;
  /** Lets time pass (a replay's wait for invocations to end); tests pass a virtual one. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The AWS caller's identity, for `--by`'s default on AWS (tests inject it; otherwise STS). */
  readonly awsCaller?: AwsCallerLookup;
}

/** A command-line mistake: answered with the usage hint and exit code 2. */
export class UsageError extends SinkError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: msk-s3-sink <command> [options]

Commands:
  status    where every topic-partition stands: committed offset, generation, last object, age;
            with --bootstrap-servers also the high-water mark and the lag
  verify    read S3 back and reconcile it with the ledger: gaps, overlaps, records current nowhere,
            unreadable objects (errors); ranges the source skipped, orphans, dead letters, superseded
            objects (warnings). Exit 1 on any error; --strict: on warnings too
  locate    which object holds --offset N (or the first record at or after --timestamp T); for an
            offset the log skipped, the next record's object
  reset     move partitions of --topic back (replay) or forward (skip) as a new ledger generation
            (--to-offset N | --to-timestamp T | --to-earliest | --to-latest) --reason TEXT; refuses
            until the mapping has been disabled for longer than the function timeout
  replay    the whole replay: disable the mapping, fence the function (reserved concurrency 0) and
            wait out its timeout, reset the consumer group and the ledger, restore, enable
            (--function F, --bootstrap-servers); with --new-group G, a new mapping at --to-timestamp.
            Not for a standalone worker (--ledger-file): stop the worker, reset, start it
  prune     delete the objects that no generation counts as current (see verify); a dry run unless --yes;
            refuses a partition with any error; records who, when, what and how many in the ledger
  history   every reset and prune of the ledger's partitions: when, topic, partition, action, id, who,
            from, to, reason (--topic T, --partition P)
  manifest  write _manifest.json in each time partition of --topic that every partition has
            committed past (time partitioner; the layout from the function's SINK_* settings in the
            environment, or from a worker's file with --config; --partitions N: the topic's partition
            count; --grace-ms G)
  standalone <file>  run the sink as a long-running Kafka consumer (see msk-s3-sink standalone --help)

Where (defaults from the sink's own environment variables):
  --config FILE               a standalone worker's .properties or JSON file: the bucket (s3.bucket.name),
                              the prefixes (topics.dir, errors.deadletterqueue.s3.prefix), the layout
                              (partitioner.class, path.format, ...) and the ledger (offset.storage.file.filename,
                              relative to FILE, or ledger.table) in place of the variables below; the flags
                              below still win over it
  --bucket NAME               SINK_BUCKET
  --prefix PREFIX             SINK_PREFIX (topics/)
  --dead-letter-prefix PREFIX SINK_DEAD_LETTER_PREFIX (dead-letters/)
  --table NAME                LEDGER_TABLE
  --ledger-file PATH          LEDGER_FILE: a standalone worker's ledger file (offset.storage.file.filename)
                              instead of the table; reset then needs no --function: it refuses while a
                              worker holds the file
  --region REGION             AWS_REGION; AWS_ENDPOINT_URL_S3/_DYNAMODB/_LAMBDA for emulators

Selection: --topic T, --partition P (repeatable)
Kafka:     --bootstrap-servers host:port,...  --kafka-auth none|tls|scram-sha-256|scram-sha-512|msk-iam
           --kafka-username U (password from KAFKA_PASSWORD)
Mapping:   --function NAME, --mapping UUID, --poll-seconds N (how often to check its state; 5)
Safety:    --dry-run (show exactly what would change), --force (reset while invocations may still
           run, or a partition neither the ledger nor the cluster knows; replay --new-group when the
           function role's policy cannot be read; never past a ledger file's lock), --id ID (resume a
           reset or replay), --by WHO (default: the AWS caller's ARN from STS; user@host with a ledger
           file or AWS_ENDPOINT_URL*), --reason TEXT, --yes (prune: delete)
Output:    --json (for scripts), --read (verify: read every object too), --strict
`;

const OPTIONS = {
  config: { type: 'string' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  'dead-letter-prefix': { type: 'string' },
  table: { type: 'string' },
  'ledger-file': { type: 'string' },
  region: { type: 'string' },
  topic: { type: 'string' },
  partition: { type: 'string', multiple: true },
  offset: { type: 'string' },
  timestamp: { type: 'string' },
  'to-offset': { type: 'string' },
  'to-timestamp': { type: 'string' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  reason: { type: 'string' },
  by: { type: 'string' },
  id: { type: 'string' },
  function: { type: 'string' },
  mapping: { type: 'string' },
  'new-group': { type: 'string' },
  'delete-old': { type: 'boolean' },
  'bootstrap-servers': { type: 'string' },
  'kafka-auth': { type: 'string' },
  'kafka-username': { type: 'string' },
  'poll-seconds': { type: 'string' },
  partitions: { type: 'string' },
  'grace-ms': { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  read: { type: 'boolean' },
  strict: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Runs one command; resolves to the process exit code. */
export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    io.stderr.write(`error: ${parseErrorMessage(error)}\n(see msk-s3-sink --help)\n`);
    return 2;
  }
  const [command, ...extra] = positionals;
  if (values.help || command === undefined || command === 'help') {
    io.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const context = new Context(values, env, io);
    try {
      switch (command) {
        case 'status':
          return await status(context);
        case 'verify':
          return await verify(context);
        case 'locate':
          return await locate(context);
        case 'reset':
          return await reset(context);
        case 'replay':
          return await replay(context);
        case 'prune':
          return await prune(context);
        case 'history':
          return await history(context);
        case 'manifest':
          return await manifest(context);
        default:
          throw new UsageError(`unknown command ${JSON.stringify(command)}`);
      }
    } finally {
      await context.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n(see msk-s3-sink --help)\n`);
      return 2;
    }
    // The --config file lists every problem itself; as for the worker, a bad file is exit code 2.
    if (error instanceof StandaloneConfigError) {
      io.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${describe(error)}\n`);
    return 1;
  }
}

/**
 * Node's parser messages, in the command line's own words: an unknown option names the closest
 * known one ("did you mean …"), a missing value names its option.
 */
function parseErrorMessage(error: unknown): string {
  const e = error as Error & { code?: string };
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  if (quoted === undefined) return e.message;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = quoted.replace(/=.*$/, '');
    const suggestion = name.startsWith('--') ? closestName(name.slice(2), Object.keys(OPTIONS)) : undefined;
    return `unknown option ${name}${suggestion ? ` (did you mean --${suggestion}?)` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = quoted.split(' ')[0]!;
    return /argument missing/.test(e.message) ? `${name} needs a value` : `${name} takes no value`;
  }
  return e.message;
}

function describe(error: unknown): string {
  const e = error as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
  if (e.name === 'AccessDeniedException' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) {
    return `permission denied: ${e.message} (the credentials in use lack a permission this command needs)`;
  }
  if (e.name === 'ResourceNotFoundException') return `not found: ${e.message}`;
  if (e.name === 'NoSuchBucket') return `no such bucket: ${e.message}`;
  if (e.name === 'CredentialsProviderError') return `no AWS credentials: ${e.message}`;
  return `${e.name}: ${e.message}`;
}

/** Where the ledger is: the DynamoDB table, or a standalone worker's ledger file (absolute). */
type LedgerLocation = { readonly kind: 'table'; readonly table: string } | { readonly kind: 'file'; readonly path: string };

/** The table name `loadConfig` is given to read the layout when the ledger is a file (never contacted). */
const LAYOUT_ONLY_TABLE = 'ledger-file';

/** The options and clients of one run, made on first use. */
class Context {
  readonly values: Values;
  readonly io: CliIo;
  readonly #env: Readonly<Record<string, string | undefined>>;
  #s3: S3Client | undefined;
  #dynamo: DynamoDBClient | undefined;
  #lambda: LambdaClient | undefined;
  #kafka: KafkaAdmin | undefined;
  #worker: WorkerStorage | undefined;
  #operator: string | undefined;

  constructor(values: Values, env: Readonly<Record<string, string | undefined>>, io: CliIo) {
    this.values = values;
    this.#env = env;
    this.io = io;
  }

  /**
   * The standalone worker's file given with --config, read on first use (undefined without it).
   * It stands in for the sink's environment variables: a flag wins over it, it wins over them.
   */
  get worker(): WorkerStorage | undefined {
    const path = this.values.config;
    if (path === undefined) return undefined;
    this.#worker ??= readWorkerStorageFile(path, this.#env);
    return this.#worker;
  }
  get region(): string | undefined {
    return this.values.region ?? this.worker?.sink.aws.region ?? this.#env['AWS_REGION'];
  }
  get bucket(): string {
    const bucket = this.values.bucket ?? this.worker?.sink.bucket ?? this.#env['SINK_BUCKET'];
    if (!bucket) throw new UsageError('the bucket is unknown: give --bucket (or SINK_BUCKET, or a worker file with --config)');
    return bucket;
  }
  get prefix(): string {
    return withSlash(this.values.prefix ?? this.worker?.sink.prefix ?? this.#env['SINK_PREFIX'] ?? 'topics/');
  }
  get deadLetterPrefix(): string {
    return withSlash(
      this.values['dead-letter-prefix'] ?? this.worker?.sink.deadLetterPrefix ?? this.#env['SINK_DEAD_LETTER_PREFIX'] ?? 'dead-letters/',
    );
  }
  /** The ledger the command works on; a usage error when none is given or the choice is ambiguous. */
  get ledgerLocation(): LedgerLocation {
    const location = this.#findLedger();
    if (!location) {
      throw new UsageError(
        "the ledger is unknown: give --table (or LEDGER_TABLE), or a standalone worker's ledger file with --ledger-file (or LEDGER_FILE) or its configuration file with --config",
      );
    }
    return location;
  }
  /** True when the ledger given is a file (false when it is the table, or not given). */
  get usesLedgerFile(): boolean {
    return this.#findLedger()?.kind === 'file';
  }
  /** The ledger, for messages: the table's name, or `file PATH`. */
  get ledgerName(): string {
    const location = this.ledgerLocation;
    return location.kind === 'table' ? location.table : `file ${location.path}`;
  }
  /**
   * A flag wins over the --config file, which wins over the environment (as it does for the
   * worker); both flags, or both variables without a flag or a file, are a usage error rather
   * than a guess: a reset on the wrong ledger is not undone by running it again.
   */
  #findLedger(): LedgerLocation | undefined {
    const table = this.values.table || undefined;
    const file = this.values['ledger-file'] || undefined;
    if (table !== undefined && file !== undefined) {
      throw new UsageError("give --table (the DynamoDB ledger) or --ledger-file (a standalone worker's ledger file), not both");
    }
    if (file !== undefined) return { kind: 'file', path: resolve(file) };
    if (table !== undefined) return { kind: 'table', table };
    const worker = this.worker?.ledger;
    if (worker !== undefined) return worker.kind === 'file' ? worker : { kind: 'table', table: worker.table };
    const envTable = this.#env['LEDGER_TABLE'] || undefined;
    const envFile = this.#env['LEDGER_FILE'] || undefined;
    if (envTable !== undefined && envFile !== undefined) {
      throw new UsageError('both LEDGER_TABLE and LEDGER_FILE are set: choose the ledger with --table or --ledger-file');
    }
    if (envFile !== undefined) return { kind: 'file', path: resolve(envFile) };
    if (envTable !== undefined) return { kind: 'table', table: envTable };
    return undefined;
  }
  get topic(): string | undefined {
    return this.values.topic;
  }
  requireTopic(): string {
    if (!this.values.topic) throw new UsageError('--topic is required');
    return this.values.topic;
  }
  get partitions(): number[] | undefined {
    return this.values.partition?.map((text) => nonNegative('--partition', text));
  }
  /** The sink's layout: from the --config file, else from the function's own SINK_* settings in the environment. */
  get layout(): Layout {
    const worker = this.worker;
    if (worker) return createLayout(worker.sink.layout ?? DEFAULT_LAYOUT);
    const location = this.ledgerLocation;
    const config = loadConfig({
      ...Object.fromEntries(Object.entries(this.#env).filter(([name]) => name.startsWith('SINK_'))),
      SINK_BUCKET: this.bucket,
      SINK_PREFIX: this.prefix,
      SINK_DEAD_LETTER_PREFIX: this.deadLetterPrefix,
      LEDGER_TABLE: location.kind === 'table' ? location.table : LAYOUT_ONLY_TABLE,
    });
    return createLayout(config.layout ?? DEFAULT_LAYOUT);
  }
  get s3(): S3Client {
    const endpoint = this.#env['AWS_ENDPOINT_URL_S3'] ?? this.#env['AWS_ENDPOINT_URL'];
    this.#s3 ??= createS3Client({ region: this.region, endpoint });
    return this.#s3;
  }
  get dynamo(): DynamoDBClient {
    const endpoint = this.#env['AWS_ENDPOINT_URL_DYNAMODB'] ?? this.#env['AWS_ENDPOINT_URL'];
    this.#dynamo ??= createDynamoDbClient({ region: this.region, endpoint });
    return this.#dynamo;
  }
  get lambda(): LambdaClient {
    const endpoint = this.#env['AWS_ENDPOINT_URL_LAMBDA'] ?? this.#env['AWS_ENDPOINT_URL'];
    this.#lambda ??= createLambdaClient({ region: this.region, endpoint });
    return this.#lambda;
  }
  /** The ledger the command works on, through the port both ledgers implement. */
  get ledger(): LedgerAdminPort {
    const location = this.ledgerLocation;
    return location.kind === 'file'
      ? new FileLedgerAdmin(location.path)
      : new LedgerAdmin({ client: this.dynamo, tableName: location.table });
  }
  get inventory(): S3Inventory {
    return new S3Inventory({ client: this.s3, bucket: this.bucket });
  }
  /** The IAM endpoint for emulators (`AWS_ENDPOINT_URL_IAM`), else the SDK's default. */
  get iamEndpoint(): string | undefined {
    return this.#env['AWS_ENDPOINT_URL_IAM'] ?? this.#env['AWS_ENDPOINT_URL'];
  }
  get mappings(): LambdaMappings {
    return new LambdaMappings({ client: this.lambda });
  }
  /** The cluster's admin client, or undefined when no bootstrap servers were given. */
  get kafka(): KafkaAdmin | undefined {
    const servers = this.values['bootstrap-servers'];
    if (!servers) return undefined;
    this.#kafka ??= createKafkaAdmin({
      bootstrapServers: servers
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      security: this.#kafkaSecurity(),
      clientId: 'msk-s3-sink-ops',
    });
    return this.#kafka;
  }
  #kafkaSecurity(): KafkaSecurity {
    const auth = this.values['kafka-auth'] ?? 'none';
    switch (auth) {
      case 'none':
        return { kind: 'none' };
      case 'tls':
        return { kind: 'tls' };
      case 'msk-iam': {
        if (!this.region) throw new UsageError('--kafka-auth msk-iam needs --region (or AWS_REGION)');
        return { kind: 'msk-iam', region: this.region };
      }
      case 'scram-sha-256':
      case 'scram-sha-512': {
        const username = this.values['kafka-username'];
        const password = this.#env['KAFKA_PASSWORD'];
        if (!username || !password) throw new UsageError(`--kafka-auth ${auth} needs --kafka-username and KAFKA_PASSWORD`);
        return { kind: 'sasl-scram', mechanism: auth === 'scram-sha-256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512', username, password };
      }
      default:
        throw new UsageError(`--kafka-auth must be none, tls, scram-sha-256, scram-sha-512 or msk-iam, not ${JSON.stringify(auth)}`);
    }
  }
  /** The audit of a reset: an id to resume by, who, when, why. */
  async audit(): Promise<{ id: string; at: string; by: string; reason: string }> {
    const reason = this.values.reason;
    if (!reason) throw new UsageError('--reason is required: it is kept in the ledger with who and when');
    return { id: this.values.id ?? randomUUID(), at: new Date(this.io.now()).toISOString(), by: await this.operator(), reason };
  }
  /** The audit of a prune: as a reset's, with a default reason. */
  async pruneAudit(): Promise<{ id: string; at: string; by: string; reason: string }> {
    return {
      id: this.values.id ?? randomUUID(),
      at: new Date(this.io.now()).toISOString(),
      by: await this.operator(),
      reason: this.values.reason ?? 'delete objects superseded by a later generation',
    };
  }
  /** Who runs the command: --by, else the AWS caller (STS), else user@host (see lib/aws/caller.ts). */
  async operator(): Promise<string> {
    if (this.values.by !== undefined) return this.values.by;
    if (this.#operator === undefined) {
      const { by, note } = await defaultOperator({
        env: this.#env,
        usesLedgerFile: this.usesLedgerFile,
        awsCaller: this.io.awsCaller ?? stsCallerLookup({ region: this.region }),
      });
      if (note) this.io.stderr.write(`note: ${note}\n`);
      this.#operator = by;
    }
    return this.#operator;
  }
  /** The reset target from the --to-* options (exactly one). */
  target(): ResetTarget {
    const given = [
      this.values['to-offset'] !== undefined && ({ kind: 'offset', offset: nonNegative('--to-offset', this.values['to-offset']) } as const),
      this.values['to-timestamp'] !== undefined &&
        ({ kind: 'timestamp', timestamp: timestamp('--to-timestamp', this.values['to-timestamp']) } as const),
      this.values['to-earliest'] && ({ kind: 'earliest' } as const),
      this.values['to-latest'] && ({ kind: 'latest' } as const),
    ].filter((t): t is ResetTarget => t !== false && t !== undefined);
    if (given.length !== 1) {
      throw new UsageError('give exactly one of --to-offset N, --to-timestamp T, --to-earliest, --to-latest');
    }
    return given[0]!;
  }
  progress(label: string): ((done: number, total: number) => void) & { end(): void } {
    const stderr = this.io.stderr;
    const started = this.io.now();
    let last = 0;
    const update = Object.assign(
      (done: number, total: number) => {
        if (!stderr.isTTY || this.values.json) return;
        const now = this.io.now();
        if (done !== total && now - last < 100) return;
        last = now;
        const width = 30;
        const filled = total === 0 ? width : Math.round((done / total) * width);
        const rate = done / Math.max(0.001, (now - started) / 1000);
        stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(0)}/s `);
      },
      {
        end: () => {
          if (stderr.isTTY && !this.values.json) stderr.write('\n');
        },
      },
    );
    return update;
  }
  print(json: unknown, human: () => string): void {
    this.io.stdout.write(this.values.json ? `${JSON.stringify(json, null, 2)}\n` : human());
  }
  async close(): Promise<void> {
    await this.#kafka?.close();
    this.#s3?.destroy();
    this.#dynamo?.destroy();
    this.#lambda?.destroy();
  }
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function nonNegative(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`);
  return value;
}

function timestamp(name: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) throw new UsageError(`${name} must be an ISO-8601 time or epoch milliseconds, not ${JSON.stringify(text)}`);
  return value;
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === undefined || cell === null ? '-' : String(cell))))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] as string).length)));
  return `${cells
    .map((row) =>
      row
        .map((cell, column) => (cell as string).padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Commands

async function status(context: Context): Promise<number> {
  const partitions = context.partitions;
  const entries = (await context.ledger.list({ topic: context.topic })).filter(
    (e) => partitions === undefined || partitions.includes(e.partition),
  );
  const kafka = context.kafka;
  const highWatermarks = new Map<string, number>();
  if (kafka) {
    for (const topic of new Set(entries.map((entry) => entry.topic))) {
      for (const p of await kafka.listOffsets(topic)) highWatermarks.set(`${topic}/${p.partition}`, p.highWatermark);
    }
  }
  const now = context.io.now();
  const rows = entries.map((entry) => {
    const hwm = highWatermarks.get(`${entry.topic}/${entry.partition}`);
    return {
      ...ledgerEntryFields(entry),
      secondsSinceCommit: entry.updatedAt ? Math.round((now - Date.parse(entry.updatedAt)) / 1000) : undefined,
      highWatermark: hwm,
      lag: hwm === undefined ? undefined : Math.max(0, hwm - (entry.committedOffset + 1)),
      resets: entry.resets.length,
    };
  });
  context.print(rows, () =>
    rows.length === 0
      ? `The ledger ${context.ledgerName} has no entries${context.topic ? ` for topic ${context.topic}` : ''}` +
        `${partitions ? `${context.topic ? '' : ' for'} partition${partitions.length > 1 ? 's' : ''} ${partitions.join(', ')}` : ''}.\n`
      : table(
          [
            'topic',
            'partition',
            'generation',
            'committed',
            ...(kafka ? ['high-water', 'lag'] : []),
            'records',
            'since commit',
            'last object',
          ],
          rows.map((r) => [
            r.topic,
            r.partition,
            r.generation,
            r.committedOffset,
            ...(kafka ? [r.highWatermark, r.lag] : []),
            r.lastRecordCount,
            r.secondsSinceCommit === undefined ? '-' : age(r.secondsSinceCommit),
            r.lastObjectKey,
          ]),
        ),
  );
  return 0;
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

async function verify(context: Context): Promise<number> {
  const started = context.io.now();
  const progress = context.progress('verify');
  const [entries, objects, deadLetters] = await Promise.all([
    context.ledger.list({ topic: context.topic }),
    catalog(context.inventory, { prefix: context.prefix, topic: context.topic, partition: context.partitions?.[0], onProgress: progress }),
    countDeadLetters(context),
  ]);
  progress.end();
  const unreadable = context.values.read ? await readBack(context, objects) : [];
  const report = reconcile({
    entries: entries.filter((e) => context.partitions === undefined || context.partitions.includes(e.partition)),
    objects: objects.map((o) =>
      unreadable.some((u) => u.key === o.key)
        ? { ...o, descriptor: undefined, problem: unreadable.find((u) => u.key === o.key)!.problem }
        : o,
    ),
    deadLetters,
  });
  const seconds = (context.io.now() - started) / 1000;
  context.print({ ...report, objectsScanned: objects.length, seconds }, () => {
    const lines = [
      table(
        ['topic', 'partition', 'generation', 'committed', 'objects', 'records', 'dead letters', 'skipped'],
        report.partitions.map((p) => [
          p.topic,
          p.partition,
          p.generation,
          p.committedOffset,
          p.objects,
          p.recordsExact ? p.records : `≥${p.records}`,
          p.deadLetters,
          p.skippedOffsets,
        ]),
      ),
      ...report.findings.map(
        (f) =>
          `${f.severity.toUpperCase()} ${f.kind} ${f.topic}-${f.partition}${f.generation === undefined ? '' : ` (generation ${f.generation})`}: ${f.message}${f.keys ? `\n    ${f.keys.slice(0, 5).join('\n    ')}${f.keys.length > 5 ? `\n    … and ${f.keys.length - 5} more` : ''}` : ''}`,
      ),
      `${objects.length} objects scanned in ${seconds.toFixed(1)} s (${(objects.length / Math.max(seconds, 0.001)).toFixed(0)} objects/s): ${report.errors} error(s), ${report.warnings} warning(s)${report.prunable.length ? `, ${report.prunable.length} prunable object(s) (msk-s3-sink prune)` : ''}`,
      verdict(report, Boolean(context.values.strict)),
    ];
    return `${lines.join('\n')}\n`;
  });
  return report.errors > 0 || (context.values.strict && report.warnings > 0) ? 1 : 0;
}

/** verify's last line, in step with its exit code: never OK when it exits 1. */
function verdict(report: { readonly errors: number; readonly warnings: number }, strict: boolean): string {
  if (report.errors > 0) return 'INCONSISTENT: see the errors above';
  if (strict && report.warnings > 0) return `NOT OK (--strict): no errors, but ${report.warnings} warning(s) above`;
  return 'OK: S3 and the ledger agree';
}

async function countDeadLetters(context: Context): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const prefix = `${context.deadLetterPrefix}${context.topic ? `${context.topic}/` : ''}`;
  for await (const object of context.inventory.list(prefix)) {
    const match = /([^/]+)\/partition=(\d+)\/[^/]+$/.exec(object.key);
    if (!match) continue;
    const id = `${match[1]}/${match[2]}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Reads every object: its lines must be its metadata's records, in order, in its range. */
async function readBack(context: Context, objects: readonly CatalogedObject[]): Promise<Array<{ key: string; problem: string }>> {
  const problems: Array<{ key: string; problem: string }> = [];
  const progress = context.progress('read');
  let done = 0;
  const queue = objects.filter((o) => o.descriptor !== undefined);
  const worker = async () => {
    for (let object = queue.shift(); object; object = queue.shift()) {
      try {
        const text = (await context.inventory.read(object.key)).toString('utf8');
        const lines = text === '' ? [] : text.slice(0, -1).split('\n');
        const d = object.descriptor!;
        if (lines.length !== d.recordCount) throw new Error(`${lines.length} lines, metadata says ${d.recordCount} records`);
        let previous = d.afterOffset;
        for (const line of lines) {
          const offset = Number((JSON.parse(line) as { offset: unknown }).offset);
          if (!(offset > previous && offset <= d.lastOffset))
            throw new Error(`offset ${offset} out of order or outside ${d.firstOffset}-${d.lastOffset}`);
          previous = offset;
        }
      } catch (error) {
        problems.push({ key: object.key, problem: `unreadable: ${(error as Error).message}` });
      }
      progress(++done, objects.length);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  progress.end();
  return problems;
}

async function locate(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const partition = context.partitions?.[0];
  if (partition === undefined || (context.partitions?.length ?? 0) > 1) throw new UsageError('locate needs exactly one --partition');
  const offset = context.values.offset;
  const at = context.values.timestamp;
  if ((offset === undefined) === (at === undefined)) throw new UsageError('locate needs exactly one of --offset or --timestamp');
  const entry = await context.ledger.get(topic, partition);
  if (!entry) throw new OperationError(`${topic}-${partition} has no ledger entry: nothing delivered yet`);
  const found =
    offset !== undefined
      ? await locateOffset(context.inventory, { prefix: context.prefix, entry, offset: nonNegative('--offset', offset) })
      : await locateTimestamp(context.inventory, { prefix: context.prefix, entry, timestamp: timestamp('--timestamp', at!) });
  context.print(found ?? null, () => {
    if (!found)
      return `Not delivered: no current object of ${topic}-${partition} holds it (committed offset ${entry.committedOffset}, generation ${entry.generation}).\n`;
    const where =
      `${found.key}\n  generation ${found.generation}, offsets ${found.firstOffset}-${found.lastOffset}, ${found.recordCount} records` +
      `${found.offset === undefined ? '' : `; the record: offset ${found.offset}${found.timestamp === undefined ? '' : `, timestamp ${new Date(found.timestamp).toISOString()}`}`}\n`;
    if (!found.skipped) return where;
    const range = found.skipped.range;
    const offsetName = `Offset ${found.skipped.offset} of ${topic}-${partition}`;
    return (
      (range
        ? `${offsetName} was skipped: it lies in the skipped range ${range.fromOffset}-${range.toOffset} (${range.kind}, generation ${range.generation}) ` +
          `the sink recorded at ${range.detectedAt}: ` +
          (range.kind === 'gap'
            ? 'a batch started above the committed offset + 1 (the mapping discarded records after its retries or maximum record age, or retention deleted them).\n'
            : "the partition's first delivery started above it (the mapping's starting position, or retention).\n")
        : `${offsetName} is not in the log: Kafka skipped it (compaction or transaction markers), so there is nothing to deliver.\n`) +
      `The next record${found.offset === undefined ? ' is in' : `, offset ${found.offset}, is in`}:\n${where}`
    );
  });
  return found ? 0 : 1;
}

async function reset(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const target = context.target();
  const audit = await context.audit();
  const functionName = context.values.function;
  const ledger = context.ledger;
  if (ledger instanceof FileLedgerAdmin) {
    // A standalone worker: the guard is the file's lock, which every write of the reset takes
    // (and --force does not lift). Checked here too, to refuse before a plan is printed; a dry
    // run only notes it.
    if (functionName || context.values.mapping) {
      throw new UsageError(
        "--function and --mapping name a Lambda event source mapping; with --ledger-file the ledger file's lock is the guard " +
          '(reset refuses while a worker holds the file)',
      );
    }
    try {
      ledger.assertUnlocked();
    } catch (error) {
      if (!(error instanceof LedgerLockedError) || !context.values['dry-run']) throw error;
      context.io.stderr.write(`note: ${error.message}\n`);
    }
  } else if (context.values.force) {
    if (!context.values['dry-run']) {
      context.io.stderr.write(
        'WARNING: --force: the reset does not check that no invocation of the sink function is still running. One that holds a batch ' +
          'from before the reset can read the new generation and commit past it, and the replayed records it skips are then current ' +
          'nowhere, with no error from verify. Use `replay` (it fences the function and waits out its timeout), or disable the ' +
          'mapping and wait the function timeout before resetting.\n',
      );
    }
  } else if (!context.values['dry-run']) {
    if (!functionName && !context.values.mapping) {
      throw new UsageError(
        'reset refuses to run without knowing that the event source mapping is disabled: give --function (or --mapping), ' +
          'or --force if there is none (use `replay` to disable and enable it for you)',
      );
    }
    const mapping = context.values.mapping
      ? await context.mappings.get(context.values.mapping)
      : await context.mappings.findOne(functionName!, topic);
    assertReadsTopic(mapping, topic);
    const fn = functionName ?? mapping.functionArn;
    if (!fn) throw new OperationError(`mapping ${mapping.uuid} names no function`);
    const drained = await invocationsDrained(context.mappings, mapping, fn, context.io.now());
    if (!drained.drained) {
      throw new OperationError(
        `${drained.reason}. Disable the mapping and wait until the function timeout has passed, or use \`replay\` (it fences the function and waits for you), or --force`,
      );
    }
  }
  const kafka = context.kafka;
  const nextOffsets = await resolveTarget(target, topic, context.partitions, kafka);
  const entries = await ledger.list({ topic });
  // With the cluster, resolveTarget refused partitions it does not have; without it, a partition
  // the ledger does not know either may be a typo that would create an entry for nothing.
  const unknown = kafka ? [] : [...nextOffsets.keys()].filter((p) => !entries.some((e) => e.partition === p));
  for (const partition of unknown) {
    context.io.stderr.write(
      `warning: ${topic}-${partition} has no ledger entry, and without --bootstrap-servers the cluster cannot confirm it exists: ` +
        'the reset would create a ledger entry for it\n',
    );
  }
  if (unknown.length > 0 && !context.values.force && !context.values['dry-run']) {
    throw new OperationError(
      `partition${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} of ${topic} ${unknown.length > 1 ? 'are' : 'is'} in neither the ledger nor a known cluster: ` +
        'give --bootstrap-servers to check, or --force to reset anyway',
    );
  }
  const steps = planReset({ id: audit.id, topic, entries, nextOffsets });
  printPlan(context, steps, audit);
  if (context.values['dry-run']) return 0;
  await applyReset(ledger, steps, audit);
  context.io.stderr.write(
    ledger instanceof FileLedgerAdmin
      ? `Reset ${audit.id} applied to ${steps.length} partition(s). Start the worker again: it resumes every partition at the ` +
          "ledger's committed offset + 1, so delivery starts again at the next offsets shown, in the new generation.\n"
      : `Reset ${audit.id} applied to ${steps.length} partition(s). The consumer group still has its own offsets: ` +
          'reset them too (or use `replay`) so that the records are delivered again.\n',
  );
  return 0;
}

function printPlan(context: Context, steps: readonly ResetStep[], audit: { id: string; reason: string; by: string }): void {
  context.print(
    { id: audit.id, dryRun: Boolean(context.values['dry-run']), steps },
    () =>
      `${context.values['dry-run'] ? 'Would reset' : 'Resetting'} (id ${audit.id}, by ${audit.by}: ${audit.reason}):\n` +
      table(
        ['topic', 'partition', 'generation', 'committed', '→ generation', 'next offset', 'direction'],
        steps.map((s) => [
          s.topic,
          s.partition,
          s.current?.generation ?? '-',
          s.current?.committedOffset ?? '-',
          s.toGeneration,
          s.nextOffset,
          s.alreadyApplied ? 'already applied' : s.direction,
        ]),
      ),
  );
}

async function replay(context: Context): Promise<number> {
  if (context.usesLedgerFile) {
    throw new UsageError(
      'replay drives a Lambda event source mapping and its consumer group; a standalone worker with a ledger file replays in ' +
        'three steps: stop the worker, `msk-s3-sink reset --ledger-file PATH --topic T (--to-offset N | --to-timestamp T | ' +
        "--to-earliest | --to-latest) --reason TEXT`, start the worker (it resumes every partition at the ledger's committed offset + 1)",
    );
  }
  const topic = context.requireTopic();
  const functionName = context.values.function;
  if (!functionName) throw new UsageError('replay needs --function (the sink function whose mapping reads --topic)');
  const kafka = context.kafka;
  if (!kafka) throw new UsageError('replay needs --bootstrap-servers: it resets the consumer group on the cluster');
  const audit = await context.audit();
  const log = (line: string) => context.io.stderr.write(`${line}\n`);
  const io = context.io;
  const clock = { now: io.now, sleep: io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))) };
  const deps = { mappings: context.mappings, kafka, ledger: context.ledger, log, clock };
  const pollSeconds = context.values['poll-seconds'] === undefined ? 5 : nonNegative('--poll-seconds', context.values['poll-seconds']);
  const common = {
    functionName,
    mappingUuid: context.values.mapping,
    topic,
    audit,
    dryRun: context.values['dry-run'],
    pollIntervalMs: pollSeconds * 1000,
  };
  log(`replay ${audit.id} (run again with --id ${audit.id} to resume)`);
  const steps = context.values['new-group']
    ? await replayWithNewGroup(
        {
          ...deps,
          preflight: newGroupAccessCheck({
            mappings: context.mappings,
            policies: new IamRolePolicies({ region: context.region, endpoint: context.iamEndpoint }),
            functionName,
            newGroupId: context.values['new-group'],
            force: Boolean(context.values.force),
            warn: log,
          }),
        },
        {
          ...common,
          timestamp: (() => {
            const target = context.target();
            if (target.kind !== 'timestamp') throw new UsageError('--new-group starts the new consumer group at --to-timestamp');
            return target.timestamp;
          })(),
          newGroupId: context.values['new-group'],
          deleteOld: Boolean(context.values['delete-old']),
        },
      )
    : await replayInPlace(deps, { ...common, partitions: context.partitions, target: context.target() });
  printPlan(context, steps, audit);
  return 0;
}

/**
 * Deletes superseded objects: those wholly outside their generation's window as the ledger's
 * history defines it (see `reconcile`). A partition with any error (a gap, an overlap, an object
 * it cannot read) is refused whole: what is current there is in doubt. A dry run unless --yes;
 * each partition's audit record goes on its ledger entry before its objects are deleted.
 */
async function prune(context: Context): Promise<number> {
  const [entries, objects] = await Promise.all([
    context.ledger.list({ topic: context.topic }),
    catalog(context.inventory, { prefix: context.prefix, topic: context.topic, onProgress: context.progress('scan') }),
  ]);
  const only = context.partitions;
  const report = reconcile({
    entries: entries.filter((e) => only === undefined || only.includes(e.partition)),
    objects: objects.filter((o) => only === undefined || only.includes(o.partition)),
  });
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const errors = new Map<string, string[]>();
  for (const finding of report.findings.filter((f) => f.severity === 'error')) {
    const id = `${finding.topic}/${finding.partition}`;
    errors.set(id, [...(errors.get(id) ?? []), `${finding.kind}: ${finding.message}`]);
  }
  const groups = new Map<string, CatalogedObject[]>();
  for (const key of report.prunable) {
    const object = byKey.get(key)!;
    const id = `${object.topic}/${object.partition}`;
    groups.set(id, [...(groups.get(id) ?? []), object]);
  }
  const refused = [...errors.keys()].sort().map((id) => {
    const [topic, partition] = [id.slice(0, id.lastIndexOf('/')), Number(id.slice(id.lastIndexOf('/') + 1))];
    return { topic, partition, errors: errors.get(id)!, objects: groups.get(id)?.length ?? 0 };
  });
  const planned = [...groups.entries()].filter(([id]) => !errors.has(id)).sort(([a], [b]) => (a < b ? -1 : 1));
  const keys = planned.flatMap(([, group]) => group.map((o) => o.key));
  const dryRun = !context.values.yes || Boolean(context.values['dry-run']);
  const audit = dryRun ? undefined : await context.pruneAudit();
  context.print({ dryRun, ...(audit ? { id: audit.id } : {}), keys, refused }, () =>
    [
      ...refused.map(
        (r) =>
          `REFUSED ${r.topic}-${r.partition}: ${r.errors.length} error(s), so what is current there is in doubt (see msk-s3-sink verify); ` +
          `${r.objects} object(s) left alone\n    ${r.errors[0]}\n`,
      ),
      `${dryRun ? 'Would delete' : 'Deleting'} ${keys.length} superseded object(s)${keys.length ? `:\n  ${keys.join('\n  ')}` : ''}\n`,
      dryRun && keys.length > 0 ? 'dry run: nothing deleted; run again with --yes to delete\n' : '',
    ].join(''),
  );
  if (dryRun || keys.length === 0) return refused.length > 0 ? 1 : 0;
  let deleted = 0;
  for (const [, group] of planned) {
    const { topic, partition } = group[0]!;
    const offsets = group.map((o) => o.descriptor!);
    // Recorded first: a deletion never goes unrecorded, even if the process dies halfway.
    await context.ledger.recordPrune(topic, partition, {
      ...audit!,
      generations: [...new Set(offsets.map((d) => d.generation))].sort((a, b) => a - b),
      fromOffset: Math.min(...offsets.map((d) => d.firstOffset)),
      toOffset: Math.max(...offsets.map((d) => d.lastOffset)),
      objects: group.length,
      bytes: group.reduce((sum, o) => sum + o.size, 0),
    });
    const groupKeys = group.map((o) => o.key);
    for (let start = 0; start < groupKeys.length; start += 1000) {
      const batch = groupKeys.slice(start, start + 1000);
      const failures = await deleteObjectBatch(context.s3, context.bucket, batch);
      if (failures.length) {
        throw new OperationError(
          `${topic}-${partition}: could not delete ${failures.length} object(s) (prune ${audit!.id}; run prune again): ` +
            `${failures[0]!.key}: ${failures[0]!.message}`,
        );
      }
      deleted += batch.length;
    }
  }
  if (!context.values.json) {
    context.io.stdout.write(
      `Deleted ${deleted} superseded object(s) of ${planned.length} partition(s) (prune ${audit!.id}, by ${audit!.by}; see msk-s3-sink history)\n`,
    );
  }
  return refused.length > 0 ? 1 : 0;
}

/**
 * Every reset and prune recorded on the ledger's entries, oldest first: when, where, what, who,
 * from, to and why. A reset's from and to are `g{generation}@{committed offset}` (the old
 * generation's committed offset; the offset the new generation continues after); a prune's are
 * the offsets its deleted objects spanned.
 */
async function history(context: Context): Promise<number> {
  const only = context.partitions;
  const entries = (await context.ledger.list({ topic: context.topic })).filter((e) => only === undefined || only.includes(e.partition));
  const rows = entries
    .flatMap((entry) => [
      ...entry.resets.map((reset) => ({ action: 'reset' as const, topic: entry.topic, partition: entry.partition, ...reset })),
      ...(entry.prunes ?? []).map((prune) => ({ action: 'prune' as const, topic: entry.topic, partition: entry.partition, ...prune })),
    ])
    .sort((a, b) =>
      a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.topic !== b.topic ? (a.topic < b.topic ? -1 : 1) : a.partition - b.partition,
    );
  context.print(rows, () =>
    rows.length === 0
      ? `The ledger ${context.ledgerName} records no reset or prune${context.topic ? ` for topic ${context.topic}` : ''}.\n`
      : table(
          ['at', 'topic', 'partition', 'action', 'id', 'by', 'from', 'to', 'reason'],
          rows.map((r) =>
            r.action === 'reset'
              ? [
                  r.at,
                  r.topic,
                  r.partition,
                  `reset (${r.toOffset < r.fromOffset ? 'replay' : r.toOffset === r.fromOffset ? 'restart' : 'skip'})`,
                  r.id,
                  r.by,
                  `g${r.fromGeneration}@${r.fromOffset}`,
                  `g${r.toGeneration}@${r.toOffset}`,
                  r.reason,
                ]
              : [
                  r.at,
                  r.topic,
                  r.partition,
                  `prune ${r.objects} object${r.objects === 1 ? '' : 's'} of ${r.generations.map((g) => `g${g}`).join(', ')} (${bytes(r.bytes)})`,
                  r.id,
                  r.by,
                  r.fromOffset,
                  r.toOffset,
                  r.reason,
                ],
          ),
        ),
  );
  return 0;
}

function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(1)} GiB`;
}

async function manifest(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const layout = context.layout;
  const problem = manifestLayoutProblem(layout);
  if (problem) throw new OperationError(problem);
  const { plan, ...result } = await writeDueManifests({
    inventory: context.inventory,
    ledger: context.ledger,
    store: new S3ObjectStore({ client: context.s3, bucket: context.bucket }),
    prefix: context.prefix,
    topic,
    layout,
    ...(context.values['grace-ms'] === undefined ? {} : { graceMs: nonNegative('--grace-ms', context.values['grace-ms']) }),
    ...(context.values.partitions === undefined ? {} : { partitions: nonNegative('--partitions', context.values.partitions) }),
    dryRun: Boolean(context.values['dry-run']),
    onProgress: context.progress('scan'),
  });
  context.print(
    { dryRun: Boolean(context.values['dry-run']), due: plan.manifests.map((m) => m.key), ...result, pending: plan.pending },
    () =>
      `${plan.manifests.length} complete time partition(s)${context.values['dry-run'] ? ' (dry run: nothing written)' : `: ${result.written.length} manifest(s) written, ${result.existing.length} already there`}\n` +
      plan.manifests.map((m) => `  ${m.key}\n`).join('') +
      (plan.pending.length
        ? `${plan.pending.length} not complete yet:\n${plan.pending.map((p) => `  ${p.path} waiting for partition(s) ${p.waitingFor.join(', ')}\n`).join('')}`
        : ''),
  );
  return 0;
}
