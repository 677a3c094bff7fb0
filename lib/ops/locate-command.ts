/** `locate`: which object holds an offset, or the first record at or after a time. */
import { OperationError } from '../core/errors.ts';
import type { Context } from './cli-context.ts';
import { nonNegative, timestamp, UsageError } from './cli-options.ts';
import { locateOffset, locateTimestamp } from './locate.ts';

/** Prints the object that holds --offset (or the first record at or after --timestamp) of one partition; exit 1 when none does. */
export async function locate(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const partition = context.partitions?.[0];
  if (partition === undefined || (context.partitions?.length ?? 0) > 1) throw new UsageError('locate needs exactly one --partition');
  const offset = context.values.offset;
  const at = context.values.timestamp;
  if ((offset === undefined) === (at === undefined)) throw new UsageError('locate needs exactly one of --offset or --timestamp');
  const entry = await context.ledger.get(topic, partition);
  if (!entry) throw new OperationError(`${topic}-${partition} has no ledger entry: nothing delivered yet`);
  const found =
    offset !== undefined
      ? await locateOffset(context.inventory, { prefix: context.prefix, entry, offset: nonNegative('--offset', offset) })
      : await locateTimestamp(context.inventory, { prefix: context.prefix, entry, timestamp: timestamp('--timestamp', at!) });
  context.print(found ?? null, () => {
    if (!found)
      return `Not delivered: no current object of ${topic}-${partition} holds it (committed offset ${entry.committedOffset}, generation ${entry.generation}).\n`;
    const where =
      `${found.key}\n  generation ${found.generation}, offsets ${found.firstOffset}-${found.lastOffset}, ${found.recordCount} records` +
      `${found.offset === undefined ? '' : `; the record: offset ${found.offset}${found.timestamp === undefined ? '' : `, timestamp ${new Date(found.timestamp).toISOString()}`}`}\n`;
    if (!found.skipped) return where;
    const range = found.skipped.range;
    const offsetName = `Offset ${found.skipped.offset} of ${topic}-${partition}`;
    return (
      (range
        ? `${offsetName} was skipped: it lies in the skipped range ${range.fromOffset}-${range.toOffset} (${range.kind}, generation ${range.generation}) ` +
          `the sink recorded at ${range.detectedAt}: ` +
          (range.kind === 'gap'
            ? 'a batch started above the committed offset + 1 (the mapping discarded records after its retries or maximum record age, or retention deleted them).\n'
            : "the partition's first delivery started above it (the mapping's starting position, or retention).\n")
        : `${offsetName} is not in the log: Kafka skipped it (compaction or transaction markers), so there is nothing to deliver.\n`) +
      `The next record${found.offset === undefined ? ' is in' : `, offset ${found.offset}, is in`}:\n${where}`
    );
  });
  return found ? 0 : 1;
}
