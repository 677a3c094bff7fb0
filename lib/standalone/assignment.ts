/**
 * Where the standalone worker starts a partition added to its assignment: the ledger's committed
 * offset + 1 (the protocol's one assumption, docs/protocol.md: a batch never starts above it),
 * else the consumer group's committed offset, else `consumer.auto.offset.reset`. A partition
 * whose ledger entry names another topic id (the topic was deleted and created again) is refused.
 */
import type { Consumer } from '@platformatic/kafka';
import { SinkError, TopicRecreatedError } from '../core/errors.ts';
import type { OffsetLedger } from '../core/ports.ts';
import type { StandaloneConfig } from '../config/worker-config.ts';
import { groupByTopic, partitionKey, type PositionSource } from './partition-state.ts';

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
    const topicId = topicIds.get(tp.topic);
    if (entry?.topicId !== undefined && topicId !== undefined && entry.topicId !== topicId) {
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
