/**
 * Where the standalone worker starts a partition added to its assignment: the ledger's committed
 * offset + 1 (the protocol's one assumption, docs/protocol.md: a batch never starts above it),
 * else the consumer group's committed offset, else `consumer.auto.offset.reset`. A partition
 * whose ledger entry names another topic id (the topic was deleted and created again) is refused.
 */
import type { Consumer } from '@platformatic/kafka';
import { SinkError, TopicRecreatedError } from '../core/errors.ts';
import type { Clock, OffsetLedger } from '../core/ports.ts';
import type { StandaloneConfig } from '../config/worker-config.ts';
import { errorFields, type WorkerLogger } from './log.ts';
import { groupByTopic, type PartitionState, partitionKey, type PositionSource } from './partition-state.ts';
import { recreatedTopicId } from '../ledger/topic-id.ts';

const EARLIEST = -2n;
const LATEST = -1n;

/** What positioning needs of the worker. */
export interface PositioningHost {
  readonly ledger: OffsetLedger;
  readonly consumer: Consumer;
  readonly autoOffsetReset: StandaloneConfig['autoOffsetReset'];
  /** A Kafka request abandoned (rejected) when a stop is asked for. */
  untilStop<T>(request: Promise<T>): Promise<T>;
}

/** What an assignment pass needs of the worker. */
export interface AssignmentHost extends PositioningHost {
  readonly clock: Clock;
  readonly log: WorkerLogger;
  /** The worker's partitions, changed in place (the map is replaced at a rejoin). */
  partitions(): Map<string, PartitionState>;
  /** Bumped at every rejoin: a pass that straddles one positions nothing (the next pass does). */
  generation(): number;
  stopping(): boolean;
  /** Positioning failed: another pass is due. */
  retryLater(): void;
  /** Sleeps, woken early by a stop. */
  sleep(ms: number): Promise<void>;
  /** Refuses a partition whose topic was created again (`PartitionDelivery.refuse`). */
  refuse(state: PartitionState, error: TopicRecreatedError): void;
}

/**
 * Follows the group's assignment incrementally: a partition kept goes on as it was (its buffer,
 * its position, a flush of it in flight), a partition revoked is dropped, and a partition added
 * is positioned at the ledger's committed offset + 1, else the group's offset, else
 * `consumer.auto.offset.reset`.
 *
 * A revoked partition's buffer is dropped, not delivered: its new owner positions it from the
 * ledger, so nothing is lost. A flush of ours still in flight for it goes on; that is the case
 * the ledger's protocol is made for (two writers at one position, as with a retried Lambda
 * batch): the object keys are a function of the records, and the conditional ledger write
 * lets one commit and makes the other skip what is already committed (docs/protocol.md).
 */
export async function applyAssignment(host: AssignmentHost): Promise<void> {
  const partitions = host.partitions();
  const assigned: Array<{ topic: string; partition: number }> = [];
  for (const assignment of host.consumer.assignments ?? []) {
    for (const partition of assignment.partitions) assigned.push({ topic: assignment.topic, partition });
  }
  const assignedKeys = new Set(assigned.map(({ topic, partition }) => partitionKey(topic, partition)));
  const revoked = [...partitions.values()].filter((s) => !assignedKeys.has(partitionKey(s.topic, s.partition)));
  const added = assigned.filter(({ topic, partition }) => !partitions.has(partitionKey(topic, partition)));
  for (const state of revoked) partitions.delete(partitionKey(state.topic, state.partition));
  if (revoked.length > 0) {
    host.log.info('Partitions revoked: dropped what was fetched of them (their new owner resumes from the ledger)', {
      partitions: revoked.map((s) => ({
        partition: `${s.topic}-${s.partition}`,
        dropped: s.buffer.length - s.inFlight,
        inFlight: s.inFlight,
      })),
    });
  }
  const positions = new Map<string, { position: number; source: PositionSource }>();
  for (const state of partitions.values())
    positions.set(partitionKey(state.topic, state.partition), { position: state.position, source: 'kept' });
  // Partitions added while positioning ran are positioned at the next pass (the join sets the flag again).
  const generation = host.generation();
  let topicIds: Map<string, string>;
  let refused: Map<string, TopicRecreatedError>;
  try {
    const result = await positionAdded(host, added);
    for (const [key, value] of result.positions) positions.set(key, value);
    ({ topicIds, refused } = result);
  } catch (error) {
    // Mid-rebalance the group coordinator refuses offset reads: try again shortly (the kept
    // partitions go on meanwhile).
    host.retryLater();
    if (host.stopping()) return;
    host.log.warn('Positioning the assigned partitions failed; trying again', errorFields(error));
    await host.sleep(500);
    return;
  }
  // A rejoin dropped every partition meanwhile: position them all again at the next pass.
  if (generation !== host.generation()) return;
  const now = host.clock.now();
  for (const { topic, partition } of added) {
    const { position } = positions.get(partitionKey(topic, partition))!;
    partitions.set(partitionKey(topic, partition), {
      topic,
      partition,
      topicId: topicIds.get(topic),
      position,
      buffer: [],
      inFlight: 0,
      flushing: undefined,
      intervalDue: false,
      bufferStart: position,
      highWatermark: undefined,
      retryAt: now,
      failures: 0,
    });
  }
  for (const [key, error] of refused) host.refuse(partitions.get(key)!, error);
  host.log.info('Partitions assigned and positioned', {
    partitions: assigned.map(({ topic, partition }) => {
      const { position, source } = positions.get(partitionKey(topic, partition))!;
      return { partition: `${topic}-${partition}`, position, from: source };
    }),
    added: added.length,
    kept: assigned.length - added.length,
    revoked: revoked.length,
  });
}

/** The added partitions' positions (by `partitionKey`), their topics' ids, and the partitions refused. */
export interface AddedPositions {
  readonly positions: Map<string, { position: number; source: PositionSource }>;
  readonly topicIds: Map<string, string>;
  readonly refused: Map<string, TopicRecreatedError>;
}

/**
 * Positions the partitions added to the assignment. Throws when a look-up fails (mid-rebalance the
 * group coordinator refuses offset reads): the caller tries again.
 */
export async function positionAdded(
  host: PositioningHost,
  added: ReadonlyArray<{ topic: string; partition: number }>,
): Promise<AddedPositions> {
  const positions = new Map<string, { position: number; source: PositionSource }>();
  const topicIds = new Map<string, string>();
  const refused = new Map<string, TopicRecreatedError>();
  const entries = await Promise.all(added.map(({ topic, partition }) => host.ledger.read(topic, partition)));
  if (added.length > 0) {
    const metadata = await host.untilStop(host.consumer.metadata({ topics: [...new Set(added.map((tp) => tp.topic))], forceUpdate: true }));
    for (const [name, topic] of metadata.topics) topicIds.set(name, topic.id);
  }
  // An added partition whose ledger entry names another topic id: the topic was deleted and
  // created again, and its offsets are not the ledger's (refused, never taken for duplicates).
  added.forEach((tp, index) => {
    const entry = entries[index];
    const topicId = entry && recreatedTopicId(entry, topicIds);
    if (entry?.topicId !== undefined && topicId !== undefined) {
      refused.set(
        partitionKey(tp.topic, tp.partition),
        new TopicRecreatedError({
          ...tp,
          ledgerTopicId: entry.topicId,
          topicId,
          generation: entry.generation,
          committedOffset: entry.committedOffset,
        }),
      );
    }
  });
  const missing: Array<{ topic: string; partition: number }> = [];
  added.forEach((tp, index) => {
    const entry = entries[index];
    if (entry) positions.set(partitionKey(tp.topic, tp.partition), { position: entry.committedOffset + 1, source: 'ledger' });
    else missing.push(tp);
  });
  if (missing.length > 0) {
    const byTopic = groupByTopic(missing);
    const committed = await host.untilStop(
      host.consumer.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }),
    );
    const unresolved: Array<{ topic: string; partition: number }> = [];
    for (const tp of missing) {
      const offset = committed.get(tp.topic)?.[tp.partition];
      if (offset !== undefined && offset >= 0n)
        positions.set(partitionKey(tp.topic, tp.partition), { position: Number(offset), source: 'group' });
      else unresolved.push(tp);
    }
    if (unresolved.length > 0) {
      const reset = host.autoOffsetReset;
      const grouped = groupByTopic(unresolved);
      const offsets = await host.untilStop(
        host.consumer.listOffsets({
          topics: [...grouped.keys()],
          partitions: Object.fromEntries(grouped),
          timestamp: reset === 'earliest' ? EARLIEST : LATEST,
        }),
      );
      for (const tp of unresolved) {
        const offset = offsets.get(tp.topic)?.[tp.partition];
        if (offset === undefined || offset < 0n) throw new SinkError(`No ${reset} offset for ${tp.topic}-${tp.partition}`);
        positions.set(partitionKey(tp.topic, tp.partition), { position: Number(offset), source: reset });
      }
    }
  }
  return { positions, topicIds, refused };
}
