/**
 * The operations CLI's Kafka admin adapter: partition offsets (earliest, high-water, by
 * timestamp) and a consumer group's committed offsets, read and reset — what replay path (a) of
 * the operations issue needs ("reset the consumer group's offsets on the cluster").
 *
 * Built on `@platformatic/kafka` (pure JavaScript, no native binary). Every call is bounded by
 * `timeoutMs` and every failure is a `KafkaAdminError` (or one of its subclasses below) with a
 * message meant for an operator.
 *
 * Safety rules, whatever the broker's version:
 * - A topic is looked up in the cluster's topic list before anything names it, so a typo never
 *   auto-creates a topic (brokers auto-create on Metadata requests below v4 when
 *   `auto.create.topics.enable` is on).
 * - Group offsets are only set for existing partitions, within [earliest, high-water], and only
 *   while the group has no active members (checked with DescribeGroups where the broker has it,
 *   and in any case enforced by the broker's answer to the commit).
 */
import { Admin } from '@platformatic/kafka';
import { DEFAULT_TIMEOUT_MS, KafkaAdminError, type KafkaAdminOptions, kafkaClientOptions, type MskIamTokenSigner } from './client.ts';

// The connection's options, security and errors live in ./client.ts (the worker needs them too).
export { KafkaAdminError, type KafkaAdminOptions, kafkaClientOptions, type KafkaSecurity, type MskIamTokenSigner } from './client.ts';

export interface PartitionOffsets {
  readonly partition: number;
  readonly earliest: number;
  readonly highWatermark: number;
}

export interface KafkaAdmin {
  /** Partitions of a topic with their earliest and high-water offsets. */
  listOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** The topic's id (Kafka's UUID), which changes when the topic is deleted and created again. */
  topicId(topic: string): Promise<string>;
  /** Per partition, the offset of the first record whose timestamp is at or after `timestamp` (epoch ms), or the high-water mark when there is none. */
  offsetsForTimestamp(topic: string, timestamp: number): Promise<Array<{ partition: number; offset: number }>>;
  /** The consumer group's committed offsets (next offset to consume) for the topic; undefined where none is committed. */
  fetchGroupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number | undefined }>>;
  /** Sets the group's committed offsets (the group must have no active members, as Kafka requires). */
  setGroupOffsets(groupId: string, topic: string, offsets: ReadonlyArray<{ partition: number; offset: number }>): Promise<void>;
  /** Closes the connections; idempotent. The admin cannot be used afterwards. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** No broker could be reached, or none answered within the timeout. */
export class KafkaUnreachableError extends KafkaAdminError {
  readonly bootstrapServers: readonly string[];
  constructor(bootstrapServers: readonly string[], detail: string, options?: ErrorOptions) {
    super(`Cannot reach Kafka at ${bootstrapServers.join(',')}: ${detail}`, options);
    this.name = 'KafkaUnreachableError';
    this.bootstrapServers = bootstrapServers;
  }
}

/** The topic does not exist on the cluster (or a partition of it does not). */
export class KafkaUnknownTopicError extends KafkaAdminError {
  readonly topic: string;
  constructor(topic: string, detail?: string, options?: ErrorOptions) {
    super(`Unknown Kafka topic "${topic}"${detail ? `: ${detail}` : ''}`, options);
    this.name = 'KafkaUnknownTopicError';
    this.topic = topic;
  }
}

/** The consumer group has active members, so Kafka refuses to have its offsets set. */
export class KafkaGroupNotEmptyError extends KafkaAdminError {
  readonly groupId: string;
  constructor(groupId: string, detail: string, options?: ErrorOptions) {
    super(
      `Consumer group "${groupId}" has active members (${detail}); Kafka only lets a group's offsets be set while it has none: stop its consumers (for a Lambda event source mapping, disable it and wait until it is Disabled) and try again`,
      options,
    );
    this.name = 'KafkaGroupNotEmptyError';
    this.groupId = groupId;
  }
}

/** Authentication failed or the principal lacks a permission. */
export class KafkaAuthError extends KafkaAdminError {
  constructor(detail: string, options?: ErrorOptions) {
    super(`Kafka refused the credentials or the operation: ${detail}`, options);
    this.name = 'KafkaAuthError';
  }
}

/** A requested offset or partition is not valid for the topic (bad argument). */
export class KafkaInvalidOffsetError extends KafkaAdminError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KafkaInvalidOffsetError';
  }
}

// ---------------------------------------------------------------------------------------------
// The adapter

export function createKafkaAdmin(options: KafkaAdminOptions, signer?: MskIamTokenSigner): KafkaAdmin {
  const clientOptions = kafkaClientOptions(options, signer);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const servers = options.bootstrapServers;
  const admin = new Admin(clientOptions);
  let closed: Promise<void> | undefined;

  /** Runs one operation within the deadline, translating every failure. */
  async function run<T>(operation: string, context: ErrorContext, body: () => Promise<T>): Promise<T> {
    if (closed) throw new KafkaAdminError(`Kafka admin is closed (${operation})`);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaUnreachableError(servers, `no answer within ${timeoutMs} ms (${operation})`)), timeoutMs);
    });
    try {
      return await Promise.race([body(), deadline]);
    } catch (error) {
      throw translateError(error, operation, context, servers);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The topic's metadata, refusing topics not in the cluster's list (never auto-creates). */
  async function topicMetadata(topic: string): Promise<{ readonly id: string; readonly partitionsCount: number }> {
    if (topic.length === 0) throw new KafkaUnknownTopicError(topic, 'empty topic name');
    const topics = await admin.listTopics({ includeInternals: true });
    if (!topics.includes(topic)) throw new KafkaUnknownTopicError(topic);
    const metadata = await admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
    const found = metadata.topics.get(topic);
    if (found === undefined) throw new KafkaUnknownTopicError(topic, 'no partitions in its metadata');
    return found;
  }

  /** The topic's partition count (see `topicMetadata`). */
  async function partitionCount(topic: string): Promise<number> {
    const count = (await topicMetadata(topic)).partitionsCount;
    if (count === undefined || count === 0) throw new KafkaUnknownTopicError(topic, 'no partitions in its metadata');
    return count;
  }

  /** ListOffsets for every partition at one "timestamp" (-2 earliest, -1 latest, or epoch ms). */
  async function offsetsAt(topic: string, partitions: number, timestamp: bigint): Promise<Map<number, bigint>> {
    const response = await admin.listOffsets({
      topics: [{ name: topic, partitions: range(partitions).map((partitionIndex) => ({ partitionIndex, timestamp })) }],
    });
    const offsets = new Map<number, bigint>();
    for (const t of response) {
      if (t.name !== topic) continue;
      for (const p of t.partitions) offsets.set(p.partitionIndex, p.offset);
    }
    for (const partition of range(partitions)) {
      if (!offsets.has(partition)) {
        throw new KafkaAdminError(`The broker returned no offset for ${topic}-${partition}`);
      }
    }
    return offsets;
  }

  async function listOffsetsOf(topic: string): Promise<PartitionOffsets[]> {
    const count = await partitionCount(topic);
    const [earliest, latest] = await Promise.all([offsetsAt(topic, count, -2n), offsetsAt(topic, count, -1n)]);
    return range(count).map((partition) => ({
      partition,
      earliest: toNumber(earliest.get(partition)!),
      highWatermark: toNumber(latest.get(partition)!),
    }));
  }

  return {
    listOffsets(topic) {
      return run('list offsets', { topic }, () => listOffsetsOf(topic));
    },

    topicId(topic) {
      return run('topic id', { topic }, async () => (await topicMetadata(topic)).id);
    },

    offsetsForTimestamp(topic, timestamp) {
      return run('offsets for timestamp', { topic }, async () => {
        if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
          throw new KafkaInvalidOffsetError(`Timestamp must be epoch milliseconds (a non-negative integer), got ${timestamp}`);
        }
        const count = await partitionCount(topic);
        const [found, latest] = await Promise.all([offsetsAt(topic, count, BigInt(timestamp)), offsetsAt(topic, count, -1n)]);
        return range(count).map((partition) => {
          const offset = found.get(partition)!;
          // -1: no record at or after the timestamp.
          return { partition, offset: toNumber(offset < 0n ? latest.get(partition)! : offset) };
        });
      });
    },

    fetchGroupOffsets(groupId, topic) {
      return run('fetch group offsets', { topic, groupId }, async () => {
        requireGroupId(groupId);
        const count = await partitionCount(topic);
        const groups = await admin.listConsumerGroupOffsets({
          groups: [{ groupId, topics: [{ name: topic, partitionIndexes: range(count) }] }],
        });
        const committed = new Map<number, bigint>();
        for (const group of groups) {
          if (group.groupId !== groupId) continue;
          for (const t of group.topics) {
            if (t.name !== topic) continue;
            for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset);
          }
        }
        return range(count).map((partition) => {
          const offset = committed.get(partition);
          return { partition, offset: offset === undefined || offset < 0n ? undefined : toNumber(offset) };
        });
      });
    },

    setGroupOffsets(groupId, topic, offsets) {
      return run('set group offsets', { topic, groupId, settingOffsets: true }, async () => {
        requireGroupId(groupId);
        const seen = new Set<number>();
        for (const { partition, offset } of offsets) {
          if (!Number.isSafeInteger(partition) || partition < 0) {
            throw new KafkaInvalidOffsetError(`Partition must be a non-negative integer, got ${partition}`);
          }
          if (!Number.isSafeInteger(offset) || offset < 0) {
            throw new KafkaInvalidOffsetError(`Offset for ${topic}-${partition} must be a non-negative integer, got ${offset}`);
          }
          if (seen.has(partition)) throw new KafkaInvalidOffsetError(`Partition ${topic}-${partition} is given twice`);
          seen.add(partition);
        }
        const bounds = await listOffsetsOf(topic);
        for (const { partition, offset } of offsets) {
          const b = bounds[partition];
          if (!b) {
            throw new KafkaUnknownTopicError(topic, `it has ${bounds.length} partitions, so no partition ${partition}`);
          }
          if (offset < b.earliest || offset > b.highWatermark) {
            throw new KafkaInvalidOffsetError(
              `Offset ${offset} is out of range for ${topic}-${partition}: the partition holds offsets ${b.earliest} to ${b.highWatermark} (high-water mark, the next offset to be written)`,
            );
          }
        }
        if (offsets.length === 0) return;
        await requireNoActiveMembers(groupId);
        await admin.alterConsumerGroupOffsets({
          groupId,
          topics: [{ name: topic, partitionOffsets: offsets.map(({ partition, offset }) => ({ partition, offset: BigInt(offset) })) }],
        });
      });
    },

    close() {
      closed ??= admin.close().catch(() => undefined);
      return closed;
    },
  };

  /** DescribeGroups where the broker has it (librdkafka's mock does not); the commit enforces it anyway. */
  async function requireNoActiveMembers(groupId: string): Promise<void> {
    const apis = await admin.listApis();
    if (!apis.some((api) => api.name === 'DescribeGroups')) return;
    let groups: Awaited<ReturnType<typeof admin.describeGroups>>;
    try {
      groups = await admin.describeGroups({ groups: [groupId] });
    } catch (error) {
      // Only a refusal matters here; otherwise the broker's answer to the commit decides.
      const translated = translateError(error, 'describe group', { groupId }, servers);
      if (translated instanceof KafkaAuthError || translated instanceof KafkaUnreachableError) throw translated;
      return;
    }
    const group = groups.get(groupId);
    if (!group) return;
    const state = group.state.toLowerCase();
    if (state !== 'empty' && state !== 'dead') {
      throw new KafkaGroupNotEmptyError(groupId, `state ${group.state}, ${group.members.size} member(s)`);
    }
  }
}

function requireGroupId(groupId: string): void {
  if (groupId.length === 0) throw new KafkaAdminError('Consumer group id must not be empty');
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function toNumber(offset: bigint): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n)) throw new KafkaAdminError(`Offset ${offset} is beyond the range this tool handles`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Error translation

interface ErrorContext {
  readonly topic?: string;
  readonly groupId?: string;
  readonly settingOffsets?: boolean;
}

const GROUP_NOT_EMPTY = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'STALE_MEMBER_EPOCH',
  'NON_EMPTY_GROUP',
  'FENCED_MEMBER_EPOCH',
]);
const AUTH = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
]);

interface Leaf {
  readonly error: Error;
  /** The `code`s of the leaf and of the errors it is nested in (e.g. PLT_KFK_NETWORK, ECONNREFUSED). */
  readonly codes: readonly string[];
  readonly apiId?: string;
}

/** The innermost errors of a `@platformatic/kafka` error (they nest in `errors` and `cause`). */
function leaves(error: unknown, outer: readonly string[] = [], depth = 0): Leaf[] {
  if (!(error instanceof Error) || depth > 8) return [];
  const record = error as Error & { errors?: unknown; code?: unknown; apiId?: unknown };
  const codes = typeof record.code === 'string' ? [...outer, record.code] : outer;
  const nested = [...(Array.isArray(record.errors) ? record.errors : []), ...(error.cause === undefined ? [] : [error.cause])].flatMap(
    (e) => leaves(e, codes, depth + 1),
  );
  if (nested.length > 0) return nested;
  return [{ error, codes, ...(typeof record.apiId === 'string' ? { apiId: record.apiId } : {}) }];
}

const NETWORK_CODES = new Set([
  'PLT_KFK_NETWORK',
  'PLT_KFK_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

function translateError(error: unknown, operation: string, context: ErrorContext, servers: readonly string[]): KafkaAdminError {
  if (error instanceof KafkaAdminError) return error;
  const found = leaves(error);
  const detail = [...new Set(found.map((l) => (l.apiId ? `${l.apiId}: ${l.error.message}` : l.error.message)))].join('; ');
  const has = (ids: ReadonlySet<string>): Leaf | undefined => found.find((l) => l.apiId !== undefined && ids.has(l.apiId));

  const auth = has(AUTH) ?? found.find((l) => l.codes.includes('PLT_KFK_AUTHENTICATION'));
  if (auth) return new KafkaAuthError(`${operation}: ${detail}`, { cause: error });
  if (found.some((l) => l.apiId === 'UNKNOWN_TOPIC_OR_PARTITION') && context.topic !== undefined) {
    return new KafkaUnknownTopicError(context.topic, `the broker answered UNKNOWN_TOPIC_OR_PARTITION (${operation})`, { cause: error });
  }
  const group = has(GROUP_NOT_EMPTY);
  if (group && context.settingOffsets && context.groupId !== undefined) {
    return new KafkaGroupNotEmptyError(context.groupId, `the broker refused the commit with ${group.apiId}`, { cause: error });
  }
  if (found.length > 0 && found.every((l) => l.codes.some((code) => NETWORK_CODES.has(code)))) {
    return new KafkaUnreachableError(servers, detail, { cause: error });
  }
  return new KafkaAdminError(`Kafka ${operation} failed: ${detail || String(error)}`, { cause: error });
}
