/** `status`: where every topic-partition stands. */
import { ledgerEntryFields } from '../core/ports.ts';
import type { Context } from './cli-context.ts';
import { age, table } from './cli-output.ts';
import { recreatedTopicId } from '../ledger/topic-id.ts';
import { clusterTopicIds, topicRecreatedMessage } from './topic-ids.ts';

/**
 * Prints where every topic-partition of the ledger stands; with --bootstrap-servers also the
 * high-water mark and the lag, and a mark on partitions whose topic was deleted and created again.
 */
export async function status(context: Context): Promise<number> {
  const partitions = context.partitions;
  const entries = (await context.ledger.list({ topic: context.topic })).filter(
    (e) => partitions === undefined || partitions.includes(e.partition),
  );
  const kafka = context.kafka;
  const highWatermarks = new Map<string, number>();
  let topicIds: Map<string, string> | undefined;
  if (kafka) {
    for (const topic of new Set(entries.map((entry) => entry.topic))) {
      for (const p of await kafka.listOffsets(topic)) highWatermarks.set(`${topic}/${p.partition}`, p.highWatermark);
    }
    topicIds = await clusterTopicIds(kafka, entries);
  }
  const now = context.io.now();
  const rows = entries.map((entry) => {
    const hwm = highWatermarks.get(`${entry.topic}/${entry.partition}`);
    const recreated = recreatedTopicId(entry, topicIds);
    return {
      ...ledgerEntryFields(entry),
      secondsSinceCommit: entry.updatedAt ? Math.round((now - Date.parse(entry.updatedAt)) / 1000) : undefined,
      highWatermark: hwm,
      // A re-created topic's offsets start again at 0: none of them is delivered, whatever the committed offset says.
      lag: hwm === undefined ? undefined : recreated !== undefined ? hwm : Math.max(0, hwm - (entry.committedOffset + 1)),
      resets: entry.resets.length,
      ...(kafka
        ? { ...(topicIds?.has(entry.topic) ? { clusterTopicId: topicIds.get(entry.topic) } : {}), topicRecreated: recreated !== undefined }
        : {}),
    };
  });
  const notes = rows.flatMap((r) =>
    r.topicRecreated && r.clusterTopicId ? [`WARNING ${r.topic}-${r.partition}: ${topicRecreatedMessage(r, r.clusterTopicId)}\n`] : [],
  );
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
            ...(kafka ? [r.highWatermark, r.topicRecreated ? `${r.lag ?? '-'} (topic re-created)` : r.lag] : []),
            r.lastRecordCount,
            r.secondsSinceCommit === undefined ? '-' : age(r.secondsSinceCommit),
            r.lastObjectKey,
          ]),
        ) + notes.join(''),
  );
  return 0;
}
