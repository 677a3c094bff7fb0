import { OperationError } from '../core/errors.ts';
import type { AuditedLedgerEntry, LedgerAdminPort, LedgerReset } from '../ledger/admin.ts';

/** One partition's planned reset. */
export interface ResetStep {
  readonly topic: string;
  readonly partition: number;
  /** What the ledger holds now (undefined: nothing committed yet). */
  readonly current: { readonly generation: number; readonly committedOffset: number } | undefined;
  /** The first offset the new generation will deliver. */
  readonly nextOffset: number;
  readonly toGeneration: number;
  /** `replay`: back over delivered records; `skip`: forward past undelivered ones. */
  readonly direction: 'replay' | 'skip' | 'restart';
  /** Set when this very reset (same id) is already in the ledger's history: nothing to do. */
  readonly alreadyApplied: boolean;
}

/**
 * Plans a reset: for each partition, a new generation whose delivery starts at
 * `nextOffsets.get(partition)`. Pure: it reads nothing and writes nothing.
 */
export function planReset(input: {
  readonly id: string;
  readonly topic: string;
  readonly entries: readonly AuditedLedgerEntry[];
  readonly nextOffsets: ReadonlyMap<number, number>;
}): ResetStep[] {
  return [...input.nextOffsets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, nextOffset]): ResetStep => {
      if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) {
        throw new OperationError(`${input.topic}-${partition}: cannot reset to offset ${nextOffset}`);
      }
      const entry = input.entries.find((e) => e.topic === input.topic && e.partition === partition);
      const applied = entry?.resets.find((reset) => reset.id === input.id);
      const current = entry ? { generation: entry.generation, committedOffset: entry.committedOffset } : undefined;
      const committed = current?.committedOffset ?? -1;
      return {
        topic: input.topic,
        partition,
        current,
        nextOffset,
        toGeneration: applied ? applied.toGeneration : (current?.generation ?? 0) + 1,
        direction: nextOffset <= committed ? 'replay' : nextOffset === committed + 1 ? 'restart' : 'skip',
        alreadyApplied: applied !== undefined,
      };
    });
}

/**
 * Carries a plan out, partition by partition, each a conditional write on what was read (a
 * commit in between makes it fail rather than be overwritten). Steps already applied (same id)
 * are skipped, so a failed run can be run again.
 */
export async function applyReset(
  ledger: LedgerAdminPort,
  steps: readonly ResetStep[],
  audit: { readonly id: string; readonly at: string; readonly by: string; readonly reason: string },
  onStep?: (step: ResetStep) => void,
): Promise<void> {
  for (const step of steps) {
    if (!step.alreadyApplied) {
      const reset: LedgerReset = {
        ...audit,
        fromGeneration: step.current?.generation ?? 0,
        fromOffset: step.current?.committedOffset ?? -1,
        toGeneration: step.toGeneration,
        toOffset: step.nextOffset - 1,
      };
      await ledger.reset(step.topic, step.partition, step.current, reset);
    }
    onStep?.(step);
  }
}
