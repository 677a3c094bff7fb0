/** `status`: where every topic-partition stands. */
import { ledgerEntryFields } from '../core/ports.ts';
import type { Context } from './cli-context.ts';
import { age, table } from './cli-output.ts';

export async function status(context: Context): Promise<number> {
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
