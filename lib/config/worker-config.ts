/**
 * The standalone worker's configuration: a Kafka Connect-style `.properties` or JSON file.
 *
 * The worker's own keys (Kafka, offsets, flushing) are validated here with zod; the sink's keys
 * (prefix, format, compression, errors, data layout and rotation) are validated and mapped onto
 * the environment variables of `lib/config/config.ts` by lib/config/connect-settings.ts — the CDK app's mapping
 * too — and then by `loadStorageConfig`, so that the Lambda function and the worker share one set of
 * rules. Every problem is reported at once in one `StandaloneConfigError`.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { extname, resolve } from 'node:path';
import { z } from 'zod';
import { loadSettings, loadStorageConfig, type SinkSettings, type StorageBindings } from './config.ts';
import { SETTING_KEYS, SINK_KEY_SCHEMAS, SINK_KEYS, sinkKeyProblems, toSinkEnvironment } from './connect-settings.ts';
import { ConfigurationError } from '../core/errors.ts';
import { closestName } from './suggest.ts';
import type { KafkaSecurity } from '../kafka/kafka-admin.ts';
import { parseProperties } from './properties.ts';

/** The configuration is invalid; `problems` lists every one (`key: what is wrong`). */
export class StandaloneConfigError extends ConfigurationError {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`Invalid standalone configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StandaloneConfigError';
    this.problems = problems;
  }
}

/** The sink's settings and where it writes; the ledger is chosen apart (`LedgerChoice`). */
export type WorkerSinkConfig = SinkSettings & StorageBindings;

export type LedgerChoice = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'dynamodb'; readonly table: string };

export interface StandaloneConfig {
  /** `name`, for logs. */
  readonly name: string;
  readonly bootstrapServers: readonly string[];
  readonly topics: { readonly kind: 'list'; readonly names: readonly string[] } | { readonly kind: 'regex'; readonly pattern: RegExp };
  readonly groupId: string;
  readonly clientId: string;
  readonly autoOffsetReset: 'earliest' | 'latest';
  readonly flushIntervalMs: number;
  readonly flushSize: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly maxPartitionFetchBytes: number;
  /**
   * `consumer.metadata.max.age.ms`: how often the subscribed topics are listed again, so that
   * topics created later (matching `topics.regex`) and partitions added later are consumed.
   */
  readonly metadataMaxAgeMs: number;
  /**
   * `consumer.partition.assignment.strategy`: the group's assignors, most preferred first; the
   * group uses the first that every member offers (so a group can move from one to another
   * member by member, as Kafka's consumers do).
   */
  readonly assignmentStrategies: readonly AssignmentStrategy[];
  /**
   * `task.shutdown.graceful.timeout.ms`: how long a stop waits for the Kafka side (the final
   * offset commit, leaving the group, closing the clients) once what was fetched is delivered.
   * Delivering to S3 and the ledger is never cut short; only the Kafka requests are abandoned.
   */
  readonly shutdownTimeoutMs: number;
  readonly security: KafkaSecurity;
  readonly ledger: LedgerChoice;
  /** The sink's settings and storage bindings, as `loadStorageConfig` validated them (the ledger is `ledger`). */
  readonly sink: WorkerSinkConfig;
}

/**
 * The partition assignors of the classic group protocol the worker offers: `cooperative-sticky`
 * (incremental: a rebalance moves only the partitions that change owner, the others are never
 * revoked) and `roundrobin` (eager: every member gives up everything at each rebalance).
 */
export const AssignmentStrategy = {
  cooperativeSticky: 'cooperative-sticky',
  roundRobin: 'roundrobin',
} as const;
export type AssignmentStrategy = (typeof AssignmentStrategy)[keyof typeof AssignmentStrategy];

/** Kafka's assignor class names for ours (what a Java consumer's configuration has). */
const ASSIGNOR_CLASSES: Readonly<Record<string, AssignmentStrategy>> = {
  'org.apache.kafka.clients.consumer.CooperativeStickyAssignor': AssignmentStrategy.cooperativeSticky,
  'org.apache.kafka.clients.consumer.RoundRobinAssignor': AssignmentStrategy.roundRobin,
};

/** Keys the worker reads, with what they mean (the README's table is generated from the same facts). */
export const STANDALONE_KEYS = [
  'name',
  'connector.class',
  'tasks.max',
  'bootstrap.servers',
  'topics',
  'topics.regex',
  'group.id',
  'client.id',
  'consumer.auto.offset.reset',
  'auto.offset.reset',
  'offset.flush.interval.ms',
  'flush.size',
  'consumer.session.timeout.ms',
  'consumer.heartbeat.interval.ms',
  'consumer.max.poll.interval.ms',
  'consumer.fetch.max.wait.ms',
  'consumer.max.partition.fetch.bytes',
  'consumer.metadata.max.age.ms',
  'consumer.partition.assignment.strategy',
  'consumer.group.protocol',
  'task.shutdown.graceful.timeout.ms',
  'security.protocol',
  'sasl.mechanism',
  'sasl.jaas.config',
  'sasl.username',
  'sasl.password',
  'sasl.aws.region',
  'ssl.ca.location',
  'ssl.truststore.location',
  'ssl.truststore.type',
  'ssl.certificate.location',
  'ssl.key.location',
  'offset.storage.file.filename',
  'ledger.table',
  's3.bucket.name',
  's3.region',
  // The sink's keys, as the CDK app's configuration has them (lib/config/connect-settings.ts).
  ...SINK_KEYS,
] as const;

/** Kafka Connect keys with no equivalent here, and why. */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  'key.converter': 'keys are written with the same rules as values (JSON, text or base64)',
  'value.converter.schemas.enable': 'the sink writes values as they are; there is no Connect schema envelope',
  'storage.class': 'the storage is always Amazon S3',
  'rotate.schedule.interval.ms':
    'it rotates on the wall clock, and object keys must be a function of the records; use rotate.interval.ms (record time)',
  's3.part.size': 'objects are written with one PutObject each',
  'errors.deadletterqueue.topic.name': 'poison records go to S3 under errors.deadletterqueue.s3.prefix, not to a Kafka topic',
  'behavior.on.null.values': 'tombstones are always written, as "value": null',
  'offset.storage.topic': "the offsets live in the sink's ledger: offset.storage.file.filename or ledger.table",
  'msk.cluster.arn': "standalone mode connects to bootstrap.servers (the MSK cluster's bootstrap brokers)",
};

/** Reads a `.properties` or `.json` file (by extension; JSON also when the text starts with `{`). */
export function readStandaloneConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): StandaloneConfig {
  return resolveStandaloneConfig(readRawConfig(path), env, { source: path, baseDir: resolve(path, '..') });
}

/**
 * Reads where a worker file puts the objects and the offsets, and their layout (for the
 * operations commands, `msk-s3-sink <command> --config FILE`): the same rules as the worker's,
 * applied to those keys only, so that the Kafka settings (and the secrets and PEM files they may
 * name) need not be at hand.
 */
export function readWorkerStorageFile(path: string, env: Readonly<Record<string, string | undefined>>): WorkerStorage {
  return resolveWorkerStorage(readRawConfig(path), env, { source: path, baseDir: resolve(path, '..') });
}

function readRawConfig(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new StandaloneConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  return extname(path).toLowerCase() === '.json' || text.trimStart().startsWith('{') ? fromJson(path, text) : fromProperties(text);
}

function fromProperties(text: string): Map<string, string> {
  return new Map([...parseProperties(text)].map(([key, entry]) => [key, entry.value]));
}

function fromJson(path: string, text: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StandaloneConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  // Kafka Connect's REST form {"name": ..., "config": {...}} is accepted too.
  if (isObject(parsed) && isObject(parsed['config'])) {
    parsed = { ...(typeof parsed['name'] === 'string' ? { name: parsed['name'] } : {}), ...parsed['config'] };
  }
  if (!isObject(parsed)) throw new StandaloneConfigError(path, ['expected a JSON object of keys and values']);
  const problems: string[] = [];
  const raw = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') raw.set(key, String(value));
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) raw.set(key, value.join(','));
    else if (value !== null) problems.push(`${key}: expected a string, number, boolean or list of strings`);
  }
  if (problems.length > 0) throw new StandaloneConfigError(path, problems);
  return raw;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Where the objects and the offsets go, and their layout: all the operations commands read. */
const STORAGE_KEY_SCHEMAS = {
  'offset.storage.file.filename': z.string().min(1).optional(),
  'ledger.table': z.string().min(1).optional(),
  's3.bucket.name': z.string().optional(),
  's3.region': z.string().optional(),
  ...SINK_KEY_SCHEMAS,
};
const StorageSchema = z.object(STORAGE_KEY_SCHEMAS);

const WorkerSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only')
    .optional(),
  'connector.class': z.string().optional(),
  'tasks.max': z
    .literal('1', { error: 'must be 1: run several standalone workers with the same group.id to share the partitions' })
    .optional(),
  'bootstrap.servers': z.string({ error: 'required' }).min(1, 'required'),
  topics: z.string().optional(),
  'topics.regex': z.string().optional(),
  'group.id': z.string().min(1).max(255).optional(),
  'client.id': z.string().min(1).max(255).optional(),
  'consumer.auto.offset.reset': z.enum(['earliest', 'latest'], { error: 'earliest or latest' }).optional(),
  'auto.offset.reset': z.enum(['earliest', 'latest'], { error: 'earliest or latest' }).optional(),
  'offset.flush.interval.ms': positiveInt(10, 3_600_000).default(10_000),
  'flush.size': positiveInt(1, 1_000_000).default(1_000),
  'consumer.session.timeout.ms': positiveInt(1_000, 3_600_000).default(45_000),
  'consumer.heartbeat.interval.ms': positiveInt(100, 600_000).default(3_000),
  'consumer.max.poll.interval.ms': positiveInt(1_000, 3_600_000).default(300_000),
  'consumer.fetch.max.wait.ms': positiveInt(0, 60_000).default(500),
  'consumer.max.partition.fetch.bytes': positiveInt(1_024, 256 * 1024 * 1024).default(1_048_576),
  // Kafka's default (5 minutes); the floor keeps a typo from listing the topics many times a second.
  'consumer.metadata.max.age.ms': positiveInt(1_000, 86_400_000).default(300_000),
  // Cooperative first; roundrobin too, so that workers of an older release (roundrobin only) and
  // newer ones can share a group during a rolling upgrade (the group takes the common one).
  'consumer.partition.assignment.strategy': z.string().default(`${AssignmentStrategy.cooperativeSticky},${AssignmentStrategy.roundRobin}`),
  'consumer.group.protocol': z.enum(['classic', 'consumer'], { error: 'classic' }).default('classic'),
  // Kafka Connect's default (5 s). 0 abandons the Kafka side at once; the ceiling (10 minutes)
  // is well past any supervisor's stop timeout (systemd 90 s, Kubernetes 30 s by default).
  'task.shutdown.graceful.timeout.ms': positiveInt(0, 600_000).default(5_000),
  'security.protocol': z
    .enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'], { error: 'PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL' })
    .default('PLAINTEXT'),
  'sasl.mechanism': z
    .enum(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'AWS_MSK_IAM'], { error: 'SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM' })
    .optional(),
  'sasl.jaas.config': z.string().optional(),
  'sasl.username': z.string().min(1).optional(),
  'sasl.password': z.string().min(1).optional(),
  'sasl.aws.region': z.string().min(1).optional(),
  'ssl.ca.location': z.string().min(1).optional(),
  'ssl.truststore.location': z.string().min(1).optional(),
  'ssl.truststore.type': z.literal('PEM', { error: 'only PEM trust stores are read (convert a JKS one with keytool/openssl)' }).optional(),
  'ssl.certificate.location': z.string().min(1).optional(),
  'ssl.key.location': z.string().min(1).optional(),
  ...STORAGE_KEY_SCHEMAS,
});

/**
 * Which key each setting of lib/config/config.ts comes from (for its problems' wording), longest name
 * first, so that no name is replaced inside a longer one.
 */
const SINK_KEYS_BY_SETTING: ReadonlyArray<readonly [env: string, key: string]> = (
  [
    ['SINK_BUCKET', 's3.bucket.name'],
    ['AWS_REGION', 's3.region'],
    ['LEDGER_TABLE', 'ledger.table'],
    ...Object.entries(SETTING_KEYS),
  ] as Array<[string, string]>
).sort(([a], [b]) => b.length - a.length);

/**
 * Validates raw key/values. `${env:NAME}` in a value is replaced by that environment variable
 * (Kafka Connect's EnvVarConfigProvider syntax), so secrets need not be in the file.
 */
export function resolveStandaloneConfig(
  input: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly source?: string; readonly baseDir?: string; readonly readFile?: (path: string) => string } = {},
): StandaloneConfig {
  const source = options.source ?? 'configuration';
  const baseDir = options.baseDir ?? process.cwd();
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const problems: string[] = [];
  const raw = substituteEnv(input, env, problems);

  const known = new Set<string>(STANDALONE_KEYS);
  for (const key of raw.keys()) {
    if (known.has(key)) continue;
    if (key in UNSUPPORTED_KEYS) problems.push(`${key}: not supported: ${UNSUPPORTED_KEYS[key]}`);
    else if (key.startsWith('lambda.') || key.startsWith('alarms.') || key.startsWith('kafka.')) {
      problems.push(`${key}: a key of the Lambda deployment (docs/configuration.md), not of standalone mode`);
    } else {
      // Kafka Connect passes consumer settings on with the consumer. prefix: point there first.
      const suggestion = known.has(`consumer.${key}`) ? `consumer.${key}` : closestName(key, known, 3);
      problems.push(`${key}: unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
  }

  const parsed = WorkerSchema.safeParse(Object.fromEntries([...raw].filter(([key]) => known.has(key))));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0] ?? source)}: ${issue.message}`);
    throw new StandaloneConfigError(source, problems);
  }
  const c = parsed.data;

  // Kafka
  const bootstrapServers = c['bootstrap.servers']
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const server of bootstrapServers) {
    if (!/^[^\s:]+:\d+$/.test(server) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(server)) {
      problems.push(`bootstrap.servers: "${server}" is not host:port`);
    }
  }
  let topics: StandaloneConfig['topics'] | undefined;
  if ((c.topics === undefined) === (c['topics.regex'] === undefined)) {
    problems.push('topics, topics.regex: give exactly one of them');
  } else if (c.topics !== undefined) {
    const names = c.topics
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = names.filter((n) => !/^[a-zA-Z0-9._-]{1,249}$/.test(n));
    if (names.length === 0) problems.push('topics: no topic given');
    for (const name of bad) problems.push(`topics: "${name}" is not a Kafka topic name`);
    topics = { kind: 'list', names: [...new Set(names)] };
  } else {
    try {
      topics = { kind: 'regex', pattern: new RegExp(`^(?:${c['topics.regex']})$`) };
    } catch (error) {
      problems.push(`topics.regex: not a regular expression: ${(error as Error).message}`);
    }
  }
  const name = c.name ?? 'msk-s3-sink';
  // Kafka Connect names a sink connector's consumer group connect-<name>.
  const groupId = c['group.id'] ?? (c.name ? `connect-${c.name}` : undefined);
  if (groupId === undefined)
    problems.push('group.id: required (or give name: the group is then connect-<name>, as Kafka Connect names it)');
  if (c['consumer.auto.offset.reset'] && c['auto.offset.reset'] && c['consumer.auto.offset.reset'] !== c['auto.offset.reset']) {
    problems.push('consumer.auto.offset.reset, auto.offset.reset: aliases with different values');
  }
  if (c['consumer.heartbeat.interval.ms'] >= c['consumer.session.timeout.ms']) {
    problems.push('consumer.heartbeat.interval.ms: must be below consumer.session.timeout.ms');
  }

  const security = resolveSecurity(c, env, { baseDir, readFile, problems });
  const assignmentStrategies = resolveAssignmentStrategies(c['consumer.partition.assignment.strategy'], problems);
  if (c['consumer.group.protocol'] === 'consumer') {
    problems.push(
      'consumer.group.protocol: "consumer" (KIP-848) is not supported: @platformatic/kafka joins that protocol only through its own consume() streams, and ' +
        'acknowledges a revocation at its next heartbeat; use "classic" (the default) with consumer.partition.assignment.strategy=cooperative-sticky, which is incremental too',
    );
  }

  const { ledger, sink } = resolveStorage(c, env, baseDir, problems);

  if (problems.length > 0 || !sink || !topics || !groupId || !ledger || !security) {
    throw new StandaloneConfigError(source, problems.length > 0 ? problems : ['invalid']);
  }
  return {
    name,
    bootstrapServers,
    topics,
    groupId,
    clientId: c['client.id'] ?? `${name}-${hostname()}-${process.pid}`,
    autoOffsetReset: c['consumer.auto.offset.reset'] ?? c['auto.offset.reset'] ?? 'earliest',
    flushIntervalMs: c['offset.flush.interval.ms'],
    flushSize: c['flush.size'],
    sessionTimeoutMs: c['consumer.session.timeout.ms'],
    heartbeatIntervalMs: c['consumer.heartbeat.interval.ms'],
    rebalanceTimeoutMs: c['consumer.max.poll.interval.ms'],
    fetchMaxWaitMs: c['consumer.fetch.max.wait.ms'],
    maxPartitionFetchBytes: c['consumer.max.partition.fetch.bytes'],
    metadataMaxAgeMs: c['consumer.metadata.max.age.ms'],
    assignmentStrategies,
    shutdownTimeoutMs: c['task.shutdown.graceful.timeout.ms'],
    security,
    ledger,
    sink,
  };
}

/** `consumer.partition.assignment.strategy`: a list of our names or Kafka's class names, most preferred first. */
function resolveAssignmentStrategies(value: string, problems: string[]): AssignmentStrategy[] {
  const known = Object.values(AssignmentStrategy) as string[];
  const strategies: AssignmentStrategy[] = [];
  for (const item of value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const strategy = known.includes(item) ? (item as AssignmentStrategy) : ASSIGNOR_CLASSES[item];
    if (strategy === undefined) {
      problems.push(
        `consumer.partition.assignment.strategy: unknown assignor "${item}" (${known.join(', ')}, or Kafka's ${Object.keys(ASSIGNOR_CLASSES).join(', ')})`,
      );
    } else if (!strategies.includes(strategy)) {
      strategies.push(strategy);
    }
  }
  if (strategies.length === 0 && !problems.some((p) => p.startsWith('consumer.partition.assignment.strategy'))) {
    problems.push('consumer.partition.assignment.strategy: no assignor given');
  }
  return strategies;
}

/** What the operations commands take from a worker file (`readWorkerStorageFile`). */
export interface WorkerStorage {
  readonly ledger: LedgerChoice;
  /** The sink's configuration (bucket, prefixes, layout, region), as `loadStorageConfig` validated it. */
  readonly sink: WorkerSinkConfig;
}

/**
 * Validates the storage keys of raw key/values (`offset.storage.file.filename`, `ledger.table`,
 * `s3.*` and the sink's keys) with the worker's rules; other keys are not looked at.
 */
export function resolveWorkerStorage(
  input: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly source?: string; readonly baseDir?: string } = {},
): WorkerStorage {
  const source = options.source ?? 'configuration';
  const problems: string[] = [];
  const storageKeys = new Set(Object.keys(STORAGE_KEY_SCHEMAS));
  const given = new Map([...(input instanceof Map ? input : Object.entries(input))].filter(([key]) => storageKeys.has(key)));
  const raw = substituteEnv(given, env, problems);
  const parsed = StorageSchema.safeParse(Object.fromEntries(raw));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0] ?? source)}: ${issue.message}`);
    throw new StandaloneConfigError(source, problems);
  }
  const { ledger, sink } = resolveStorage(parsed.data, env, options.baseDir ?? process.cwd(), problems);
  if (problems.length > 0 || !ledger || !sink) throw new StandaloneConfigError(source, problems.length > 0 ? problems : ['invalid']);
  return { ledger, sink };
}

/** `${env:NAME}` in each value replaced by that environment variable; a missing one is a problem. */
function substituteEnv(
  input: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): Map<string, string> {
  const raw = new Map<string, string>();
  for (const [key, value] of input instanceof Map ? input : Object.entries(input)) {
    raw.set(
      key,
      value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_: string, name: string) => {
        const found = env[name];
        if (found === undefined) problems.push(`${key}: \${env:${name}} is not set in the environment`);
        return found ?? '';
      }),
    );
  }
  return raw;
}

/** The ledger and the sink's configuration (validated by lib/config/config.ts); problems are added to `problems`. */
function resolveStorage(
  c: z.infer<typeof StorageSchema>,
  env: Readonly<Record<string, string | undefined>>,
  baseDir: string,
  problems: string[],
): { ledger: LedgerChoice | undefined; sink: WorkerSinkConfig | undefined } {
  let ledger: LedgerChoice | undefined;
  const file = c['offset.storage.file.filename'];
  const table = c['ledger.table'] ?? env['LEDGER_TABLE'];
  if (file !== undefined && c['ledger.table'] !== undefined) {
    problems.push('offset.storage.file.filename, ledger.table: give one of them (a file ledger or the DynamoDB ledger)');
  } else if (file !== undefined) {
    ledger = { kind: 'file', path: resolve(baseDir, file) };
  } else if (table !== undefined) {
    ledger = { kind: 'dynamodb', table };
  } else {
    problems.push('offset.storage.file.filename or ledger.table (or LEDGER_TABLE): where the offsets live is required');
  }

  // The sink's settings, validated by lib/config/config.ts.
  const sinkEnv: Record<string, string | undefined> = {
    AWS_REGION: env['AWS_REGION'],
    AWS_ENDPOINT_URL: env['AWS_ENDPOINT_URL'],
    AWS_ENDPOINT_URL_S3: env['AWS_ENDPOINT_URL_S3'],
    AWS_ENDPOINT_URL_DYNAMODB: env['AWS_ENDPOINT_URL_DYNAMODB'],
  };
  if (c['s3.bucket.name'] !== undefined) sinkEnv['SINK_BUCKET'] = c['s3.bucket.name'];
  if (c['s3.region'] !== undefined) sinkEnv['AWS_REGION'] = c['s3.region'];
  problems.push(...sinkKeyProblems(c));
  Object.assign(sinkEnv, toSinkEnvironment(c));
  // The ledger is validated above; the sink's own loader checks the settings, and the bucket when there is one.
  const bucketGiven = c['s3.bucket.name'] !== undefined;
  if (!bucketGiven) problems.push('s3.bucket.name: required');
  let sink: WorkerSinkConfig | undefined;
  try {
    if (bucketGiven) sink = loadStorageConfig(sinkEnv);
    else loadSettings(sinkEnv); // the settings' problems are reported beside the missing bucket
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    const text = error.message.replace(/^Invalid sink configuration: /, '');
    for (const problem of text.split('; ')) problems.push(renameSinkSettings(problem));
  }
  return { ledger, sink };
}

/** lib/config/config.ts names settings by environment variable; name them by key here. */
function renameSinkSettings(problem: string): string {
  let text = problem;
  for (const [envName, key] of SINK_KEYS_BY_SETTING) text = text.replaceAll(envName, key);
  const key = /^([a-z0-9.]+)[: ]/.exec(text)?.[1];
  return key && STANDALONE_KEYS.includes(key as (typeof STANDALONE_KEYS)[number]) && !text.startsWith(`${key}:`) ? `${key}: ${text}` : text;
}

/** `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";` */
export function parseJaasConfig(jaas: string): { module: string; options: Record<string, string> } | undefined {
  const match = /^\s*([A-Za-z0-9_.$]+)\s+(required|requisite|sufficient|optional)\b(.*?);?\s*$/s.exec(jaas);
  if (!match) return undefined;
  const options: Record<string, string> = {};
  const optionPattern = /([A-Za-z0-9_.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))/g;
  for (const option of match[3]!.matchAll(optionPattern)) {
    options[option[1]!] = option[2] !== undefined ? option[2].replace(/\\(.)/g, '$1') : option[3]!;
  }
  return { module: match[1]!, options };
}

function resolveSecurity(
  c: z.infer<typeof WorkerSchema>,
  env: Readonly<Record<string, string | undefined>>,
  context: { readonly baseDir: string; readonly readFile: (path: string) => string; readonly problems: string[] },
): KafkaSecurity | undefined {
  const { problems } = context;
  const protocol = c['security.protocol'];
  const pem = (
    key: 'ssl.ca.location' | 'ssl.truststore.location' | 'ssl.certificate.location' | 'ssl.key.location',
  ): string | undefined => {
    const path = c[key];
    if (path === undefined) return undefined;
    try {
      return context.readFile(resolve(context.baseDir, path));
    } catch (error) {
      problems.push(`${key}: cannot read ${path}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const sslKeys = ['ssl.ca.location', 'ssl.truststore.location', 'ssl.certificate.location', 'ssl.key.location'] as const;
  const saslKeys = ['sasl.mechanism', 'sasl.jaas.config', 'sasl.username', 'sasl.password', 'sasl.aws.region'] as const;
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT';
  if (!usesTls) for (const key of sslKeys) if (c[key] !== undefined) problems.push(`${key}: needs security.protocol SSL or SASL_SSL`);
  if (!usesSasl)
    for (const key of saslKeys) if (c[key] !== undefined) problems.push(`${key}: needs security.protocol SASL_SSL or SASL_PLAINTEXT`);
  if (c['ssl.truststore.location'] !== undefined && c['ssl.truststore.type'] !== 'PEM') {
    problems.push('ssl.truststore.location: set ssl.truststore.type=PEM (only PEM trust stores are read), or use ssl.ca.location');
  }
  if ((c['ssl.certificate.location'] === undefined) !== (c['ssl.key.location'] === undefined)) {
    problems.push('ssl.certificate.location, ssl.key.location: give both (mutual TLS) or neither');
  }
  const ca = usesTls ? (pem('ssl.ca.location') ?? pem('ssl.truststore.location')) : undefined;
  switch (protocol) {
    case 'PLAINTEXT':
      return { kind: 'none' };
    case 'SSL': {
      const cert = pem('ssl.certificate.location');
      const key = pem('ssl.key.location');
      return {
        kind: 'tls',
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
      };
    }
    case 'SASL_PLAINTEXT':
    case 'SASL_SSL': {
      if (c['ssl.certificate.location'] !== undefined)
        problems.push('ssl.certificate.location: client certificates go with security.protocol=SSL');
      const mechanism = c['sasl.mechanism'];
      if (mechanism === undefined) {
        problems.push('sasl.mechanism: required with SASL (SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM)');
        return undefined;
      }
      const jaas = c['sasl.jaas.config'] === undefined ? undefined : parseJaasConfig(c['sasl.jaas.config']);
      if (c['sasl.jaas.config'] !== undefined && jaas === undefined) {
        problems.push('sasl.jaas.config: expected `<LoginModule> required key="value" ...;`');
      }
      if (mechanism === 'AWS_MSK_IAM') {
        if (protocol !== 'SASL_SSL') problems.push('sasl.mechanism: AWS_MSK_IAM needs security.protocol=SASL_SSL');
        if (jaas && !jaas.module.endsWith('IAMLoginModule'))
          problems.push('sasl.jaas.config: AWS_MSK_IAM takes software.amazon.msk.auth.iam.IAMLoginModule');
        if (c['sasl.username'] !== undefined || c['sasl.password'] !== undefined) {
          problems.push('sasl.username, sasl.password: not used with AWS_MSK_IAM (credentials come from the AWS default chain)');
        }
        const region = c['sasl.aws.region'] ?? c['s3.region'] ?? env['AWS_REGION'];
        if (region === undefined) {
          problems.push("sasl.aws.region: the MSK cluster's region is required with AWS_MSK_IAM (or s3.region, or AWS_REGION)");
          return undefined;
        }
        return { kind: 'msk-iam', region };
      }
      if (jaas && !jaas.module.endsWith('ScramLoginModule'))
        problems.push(`sasl.jaas.config: ${mechanism} takes org.apache.kafka.common.security.scram.ScramLoginModule`);
      const username = c['sasl.username'] ?? jaas?.options['username'];
      const password = c['sasl.password'] ?? jaas?.options['password'];
      if (username === undefined || password === undefined) {
        problems.push(`sasl.username, sasl.password: ${mechanism} needs a username and a password (or sasl.jaas.config with both)`);
        return undefined;
      }
      return {
        kind: 'sasl-scram',
        mechanism,
        username,
        password,
        tls: protocol === 'SASL_SSL',
        ...(ca === undefined ? {} : { ca }),
      };
    }
  }
}
