/** `history`: every reset and prune recorded on the ledger. */
import type { Context } from './cli-context.ts';
import { bytes, table } from './cli-output.ts';

/**
 * Every reset and prune recorded on the ledger's entries, oldest first: when, where, what, who,
 * from, to and why. A reset's from and to are `g{generation}@{committed offset}` (the old
 * generation's committed offset; the offset the new generation continues after); a prune's are
 * the offsets its deleted objects spanned.
 */
export async function history(context: Context): Promise<number> {
  const only = context.partitions;
  const entries = (await context.ledger.list({ topic: context.topic })).filter((e) => only === undefined || only.includes(e.partition));
  const rows = entries
    .flatMap((entry) => [
      ...entry.resets.map((reset) => ({ action: 'reset' as const, topic: entry.topic, partition: entry.partition, ...reset })),
      ...(entry.prunes ?? []).map((prune) => ({ action: 'prune' as const, topic: entry.topic, partition: entry.partition, ...prune })),
    ])
    .sort((a, b) =>
      a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.topic !== b.topic ? (a.topic < b.topic ? -1 : 1) : a.partition - b.partition,
    );
  context.print(rows, () =>
    rows.length === 0
      ? `The ledger ${context.ledgerName} records no reset or prune${context.topic ? ` for topic ${context.topic}` : ''}.\n`
      : table(
          ['at', 'topic', 'partition', 'action', 'id', 'by', 'from', 'to', 'reason'],
          rows.map((r) =>
            r.action === 'reset'
              ? [
                  r.at,
                  r.topic,
                  r.partition,
                  `reset (${r.toOffset < r.fromOffset ? 'replay' : r.toOffset === r.fromOffset ? 'restart' : 'skip'})`,
                  r.id,
                  r.by,
                  `g${r.fromGeneration}@${r.fromOffset}`,
                  `g${r.toGeneration}@${r.toOffset}`,
                  r.reason,
                ]
              : [
                  r.at,
                  r.topic,
                  r.partition,
                  `prune ${r.objects} object${r.objects === 1 ? '' : 's'} of ${r.generations.map((g) => `g${g}`).join(', ')} (${bytes(r.bytes)})`,
                  r.id,
                  r.by,
                  r.fromOffset,
                  r.toOffset,
                  r.reason,
                ],
          ),
        ),
  );
  return 0;
}
