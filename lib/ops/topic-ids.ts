/**
 * A topic deleted and created again, as the operations commands see it. The ledger keeps the id
 * of the topic each entry's offsets belong to (`topicId`, recorded by the standalone worker); the
 * worker refuses a partition whose topic now has another id (`TopicRecreatedError`), and only its
 * error log says so. The new topic's offsets start at 0 again, so the lag and the ledger's
 * agreement with S3 look fine: `status` and `verify` compare the ids with the cluster's
 * (`--bootstrap-servers`) so that the operator sees it there too.
 */
import type { LedgerEntry } from '../core/ports.ts';
import { type KafkaAdmin, KafkaUnknownTopicError } from '../kafka/kafka-admin.ts';

/**
 * The cluster's current id of every topic of `entries` that records one. A topic no longer on the
 * cluster is left out: there is no new topic to compare with. Entries without an id (written
 * before the sink recorded it, or by the Lambda path, whose events carry topic names only) are
 * never checked, so their topics are not looked up.
 */
export async function clusterTopicIds(
  kafka: KafkaAdmin,
  entries: readonly Pick<LedgerEntry, 'topic' | 'topicId'>[],
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const topic of new Set(entries.filter((e) => e.topicId !== undefined).map((e) => e.topic))) {
    try {
      ids.set(topic, await kafka.topicId(topic));
    } catch (error) {
      if (!(error instanceof KafkaUnknownTopicError)) throw error;
    }
  }
  return ids;
}

/** What a re-created topic means for one partition, and what to do; `clusterTopicId` from `recreatedTopicId` (lib/ledger/topic-id.ts). */
export function topicRecreatedMessage(
  entry: Pick<LedgerEntry, 'topic' | 'partition' | 'topicId' | 'generation' | 'committedOffset'>,
  clusterTopicId: string,
): string {
  const { topic, partition } = entry;
  return (
    `topic ${topic} was deleted and created again (the ledger's topic id ${entry.topicId}, the cluster's ${clusterTopicId}): ` +
    `generation ${entry.generation} up to offset ${entry.committedOffset} is the old topic's, and nothing of the new topic is ` +
    'delivered (the standalone worker refuses the partition) until it is reset: stop the worker, ' +
    `\`msk-s3-sink reset --topic ${topic} --partition ${partition} --to-offset 0 --reason "topic re-created"\`, start it`
  );
}
