/** The options and clients of one run of the operations command line, made on first use. */
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
import { loadConfig } from '../config/config.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout } from '../layout/layout.ts';
import { readWorkerStorageFile, type WorkerStorage } from '../config/worker-config.ts';
import { FileLedgerAdmin } from '../ledger/file-ledger-admin.ts';
import { type AwsCallerLookup, defaultOperator, stsCallerLookup } from '../aws/caller.ts';
import { createKafkaAdmin, type KafkaAdmin, type KafkaSecurity } from '../kafka/kafka-admin.ts';
import { LedgerAdmin } from '../aws/dynamodb-ledger-admin.ts';
import type { LedgerAdminPort } from '../ledger/admin.ts';
import { LambdaMappings } from '../aws/lambda-mappings.ts';
import type { ResetTarget } from './replay.ts';
import { S3Inventory } from '../aws/s3-inventory.ts';
import { nonNegative, timestamp, UsageError, type Values, withSlash } from './cli-options.ts';

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

/** Where the ledger is: the DynamoDB table, or a standalone worker's ledger file (absolute). */
type LedgerLocation = { readonly kind: 'table'; readonly table: string } | { readonly kind: 'file'; readonly path: string };

/** The table name `loadConfig` is given to read the layout when the ledger is a file (never contacted). */
const LAYOUT_ONLY_TABLE = 'ledger-file';

/** The options and clients of one run, made on first use. */
export class Context {
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
