/**
 * The standalone worker's configuration: a Kafka Connect-style `.properties` or JSON file.
 *
 * The worker's own keys (Kafka, offsets, flushing) are validated here with zod; the sink's keys
 * (prefix, format, compression, errors, data layout and rotation) are validated and mapped onto
 * the environment variables of `lib/config/config.ts` by lib/config/connect-settings.ts — the CDK app's mapping
 * too — and then by `loadStorageConfig`, so that the Lambda function and the worker share one set of
 * rules. Every problem is reported at once in one `StandaloneConfigError`.
 *
 * The keys and their schemas are in worker-keys.ts, the storage part (ledger, bucket, the sink's
 * settings) in worker-storage.ts, the Kafka security in worker-security.ts.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { extname, resolve } from 'node:path';
import type { KafkaSecurity } from '../kafka/kafka-admin.ts';
import { parseProperties } from './properties.ts';
import { closestName } from './suggest.ts';
import {
  ASSIGNOR_CLASSES,
  AssignmentStrategy,
  type LedgerChoice,
  STANDALONE_KEYS,
  StandaloneConfigError,
  UNSUPPORTED_KEYS,
  WorkerSchema,
  type WorkerSinkConfig,
} from './worker-keys.ts';
import { resolveSecurity } from './worker-security.ts';
import { resolveStorage, resolveWorkerStorage, substituteEnv, type WorkerStorage } from './worker-storage.ts';

export {
  AssignmentStrategy,
  type LedgerChoice,
  STANDALONE_KEYS,
  StandaloneConfigError,
  UNSUPPORTED_KEYS,
  type WorkerSinkConfig,
} from './worker-keys.ts';
export { parseJaasConfig } from './worker-security.ts';
export { resolveWorkerStorage, type WorkerStorage } from './worker-storage.ts';

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
