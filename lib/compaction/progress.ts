/**
 * A partition's compaction progress from what its ledger entry holds: the handler's position, the
 * reset history and the cursor. Pure, so that the DynamoDB item, the ledger file and the tests'
 * fakes all derive it alike (docs/compaction.md, "Generations and replay").
 */
import type { CompactionCursor, PartitionProgress, SupersededGeneration } from './ports.ts';

/** The fields of a ledger reset the compactor needs (`LedgerReset` in lib/ledger/admin.ts). */
export interface ResetRecord {
  readonly fromGeneration: number;
  /** The committed offset the old generation ended at. */
  readonly fromOffset: number;
  readonly toGeneration: number;
  /** The committed offset the new generation starts from. */
  readonly toOffset: number;
}

/**
 * The progress of a partition whose ledger entry is at `generation` / `committedOffset` with
 * `resets` (oldest first) and `cursor`. Every superseded generation stays current up to where the
 * generation after it starts (`min(fromOffset, toOffset)`, as `verify`'s generation windows say);
 * with no cursor yet, compaction starts at the oldest generation's start (offset -1).
 */
export function progressOf(entry: {
  readonly generation: number;
  readonly committedOffset: number;
  readonly resets: readonly ResetRecord[];
  readonly cursor: CompactionCursor | undefined;
}): PartitionProgress {
  const superseded: SupersededGeneration[] = entry.resets.map((reset) => ({
    generation: reset.fromGeneration,
    end: reset.fromOffset,
    currentUpTo: Math.min(reset.fromOffset, reset.toOffset),
    next: { generation: reset.toGeneration, offset: reset.toOffset },
  }));
  return {
    cursor: entry.cursor,
    initialCursor: { generation: entry.resets[0]?.fromGeneration ?? entry.generation, offset: -1 },
    generation: entry.generation,
    committedOffset: entry.committedOffset,
    superseded,
  };
}
