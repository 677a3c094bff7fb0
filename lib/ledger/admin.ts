import { LedgerConflictError } from '../core/errors.ts';
import type { LedgerEntry, LedgerPosition } from '../core/ports.ts';

/** One reset of a partition's ledger: who, when, from, to and why. */
export interface LedgerReset {
  /** Identifies the operation, so that a resumed replay does not reset twice. */
  readonly id: string;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
  readonly fromGeneration: number;
  /** The committed offset the old generation ended at (-1: none). */
  readonly fromOffset: number;
  readonly toGeneration: number;
  /** The committed offset the new generation starts from: delivery resumes after it. */
  readonly toOffset: number;
}

/**
 * One prune of a partition's objects: who, when, why, and what (the generations, the offsets
 * the deleted objects spanned, how many objects and bytes). Recorded before the objects are
 * deleted, so that no deletion goes unrecorded.
 */
export interface LedgerPrune {
  readonly id: string;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
  /** The superseded generations the objects belonged to, ascending. */
  readonly generations: readonly number[];
  /** The lowest first offset and the highest last offset among the objects. */
  readonly fromOffset: number;
  readonly toOffset: number;
  readonly objects: number;
  readonly bytes: number;
}

/** A ledger entry with its reset history and its prune history (each oldest first). */
export interface AuditedLedgerEntry extends LedgerEntry {
  readonly resets: readonly LedgerReset[];
  /** Absent or empty: never pruned. */
  readonly prunes?: readonly LedgerPrune[];
}

/**
 * The ledger as the operations command line uses it: every partition's entry and history, and
 * resets. The sink's own ports (`OffsetLedger`) only read and advance; a reset is an operator's
 * act. Two implementations: `LedgerAdmin` over the DynamoDB table, and `FileLedgerAdmin`
 * (lib/ledger/file-ledger-admin.ts) over a standalone worker's ledger file.
 */
export interface LedgerAdminPort {
  /** Every entry with its history, sorted by topic and partition (a consistent read). */
  list(filter?: { readonly topic?: string }): Promise<AuditedLedgerEntry[]>;
  /** One partition's entry, or undefined when nothing was ever committed there. */
  get(topic: string, partition: number): Promise<AuditedLedgerEntry | undefined>;
  /**
   * Starts generation `reset.toGeneration` at committed offset `reset.toOffset` (no last object,
   * no records, no topic id, updated at `reset.at`) and appends `reset` to the history, only if the entry is
   * still at `expected` (what the operator was shown): the same generation and committed offset,
   * or, with `expected` undefined, no entry at all (then it is created). Otherwise it writes
   * nothing and throws `LedgerConflictError` (see `resetConflictError`), so that a writer that
   * commits in between is not overwritten.
   */
  reset(topic: string, partition: number, expected: LedgerPosition | undefined, reset: LedgerReset): Promise<void>;
  /**
   * Appends `prune` to the partition's prune history. The entry must exist (only a partition
   * with a history has superseded objects); nothing else of it changes.
   */
  recordPrune(topic: string, partition: number, prune: LedgerPrune): Promise<void>;
}

/**
 * The `LedgerConflictError` of a reset that lost: the entry moved since the operator read it.
 * `likelyCause` asks the question that explains it for the ledger at hand.
 */
export function resetConflictError(
  where: { readonly topic: string; readonly partition: number },
  expected: LedgerPosition | undefined,
  likelyCause: string,
  options?: ErrorOptions,
): LedgerConflictError {
  return new LedgerConflictError(
    `Ledger of ${where.topic}-${where.partition} moved since it was read (expected ` +
      (expected ? `generation ${expected.generation} at offset ${expected.committedOffset}` : 'no entry') +
      `): ${likelyCause} Read it again and retry.`,
    options,
  );
}
