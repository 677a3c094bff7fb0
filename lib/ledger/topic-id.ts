/**
 * The ledger keeps the id of the topic each entry's offsets belong to (`topicId`). A topic deleted
 * and created again under the same name has another id, and its offsets start at 0 again: they
 * are not the ledger's. This is the one rule for telling so, used by the standalone worker (which
 * refuses the partition) and by `status` and `verify` (which show it).
 */
import type { LedgerEntry } from '../core/ports.ts';

/**
 * The cluster's id of the entry's topic when it is another topic than the entry's: both ids
 * known and different. Undefined otherwise (an entry without an id, written before the sink
 * recorded it or by the Lambda path, is never taken for another topic's).
 */
export function recreatedTopicId(
  entry: Pick<LedgerEntry, 'topic' | 'topicId'>,
  clusterIds: ReadonlyMap<string, string> | undefined,
): string | undefined {
  const now = clusterIds?.get(entry.topic);
  return entry.topicId !== undefined && now !== undefined && now !== entry.topicId ? now : undefined;
}
