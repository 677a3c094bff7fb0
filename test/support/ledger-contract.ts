/**
 * The offset ledger's contract, as Vitest cases to register against every implementation
 * (`test/integration/ledger-contract.test.ts`: in memory, DynamoDB Local, the standalone worker's
 * file, moto's DynamoDB): the `OffsetLedger` port's conditional writes, naming declarations,
 * skipped ranges and topic ids, and, where the implementation declares `LedgerCapability.admin`,
 * what the operator's `LedgerAdminPort` shares with it (resets that the old generation's writer
 * then loses).
 */
import { describe, expect, it } from 'vitest';
import { LedgerConflictError } from '../../lib/core/errors.ts';
import type { LedgerEntry, OffsetLedger, SkippedRange } from '../../lib/core/ports.ts';
import type { LedgerAdminPort, LedgerPrune, LedgerReset } from '../../lib/ledger/admin.ts';

/** What an implementation offers beyond the port; the cases that need one run only where it is declared. */
export const LedgerCapability = {
  /** An operator's `LedgerAdminPort` over the same entries. */
  admin: 'admin',
} as const;
export type LedgerCapability = (typeof LedgerCapability)[keyof typeof LedgerCapability];

/** One ledger opened for one case: empty, and no other case's. */
export interface LedgerUnderTest {
  /** The writer's ledger. Read it again after `withAdmin`: where the two cannot be open together, it is reopened. */
  readonly ledger: OffsetLedger;
  /**
   * Runs `use` with the admin port over the same entries; present exactly when the implementation
   * declares `LedgerCapability.admin`. Where the admin needs the writer gone (the file's lock), the
   * writer's ledger is closed first and opened again after.
   */
  readonly withAdmin?: <T>(use: (admin: LedgerAdminPort) => Promise<T>) => Promise<T>;
}

/** An implementation of the `OffsetLedger` port, with what it offers. */
export interface LedgerImplementation {
  readonly name: string;
  readonly capabilities: readonly LedgerCapability[];
  /** A fresh, empty ledger of its own (a table, a file). */
  open(): Promise<LedgerUnderTest>;
}

export const AT = '2026-11-26T00:00:00.000Z';
export const commit = (committedOffset: number, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  topic: 'orders.v1',
  partition: 2,
  generation: 0,
  committedOffset,
  lastObjectKey: `k${committedOffset}`,
  lastRecordCount: 1,
  updatedAt: AT,
  ...extra,
});
export const gap = (fromOffset: number, toOffset: number): SkippedRange => ({
  kind: 'gap',
  generation: 0,
  fromOffset,
  toOffset,
  detectedAt: AT,
});

/** A reset record, from the generation before `toGeneration` at `fromOffset` to `toGeneration` at `toOffset`. */
const resetOf = (id: string, fromOffset: number, toGeneration: number, toOffset: number): LedgerReset => ({
  id,
  at: AT,
  by: 'test',
  reason: 'contract',
  fromGeneration: toGeneration - 1,
  fromOffset,
  toGeneration,
  toOffset,
});

/** Registers the ledger contract's cases for `impl`, in a describe block of its own; each case opens its own ledger. */
export function ledgerContract(impl: LedgerImplementation): void {
  describe(`OffsetLedger contract: ${impl.name} (capabilities: ${impl.capabilities.join(', ') || 'the port only'})`, () => {
    const open = async (): Promise<OffsetLedger> => {
      const opened = await impl.open();
      expect(opened.withAdmin !== undefined, 'the admin port is present exactly when admin is declared').toBe(
        impl.capabilities.includes(LedgerCapability.admin),
      );
      return opened.ledger;
    };
    portCases(open);
    if (impl.capabilities.includes(LedgerCapability.admin)) describe('the admin port', () => adminCases(impl));
  });
}

function portCases(open: () => Promise<OffsetLedger>): void {
  it('advance is conditional on no entry, then on the generation and a lower committed offset', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(10, { partition: 0 }));
    await expect(ledger.advance(undefined, commit(11, { partition: 0 }))).rejects.toThrow(LedgerConflictError);
    await ledger.advance({ generation: 0, committedOffset: 10 }, commit(20, { partition: 0 }));
    // Never backwards, never to the same offset, never from another generation.
    await expect(ledger.advance({ generation: 0, committedOffset: 10 }, commit(15, { partition: 0 }))).rejects.toThrow(LedgerConflictError);
    await expect(ledger.advance({ generation: 0, committedOffset: 20 }, commit(20, { partition: 0 }))).rejects.toThrow(LedgerConflictError);
    await expect(ledger.advance({ generation: 1, committedOffset: 20 }, commit(30, { partition: 0, generation: 1 }))).rejects.toThrow(
      LedgerConflictError,
    );
    expect(await ledger.read('orders.v1', 0)).toMatchObject({ generation: 0, committedOffset: 20, lastObjectKey: 'k20' });
    expect(await ledger.read('orders.v1', 9)).toBeUndefined();
  });

  it('declareNaming creates a new entry at -1, then moves only from the naming and position read', async () => {
    const ledger = await open();
    await ledger.declareNaming(undefined, { topic: 'orders.v1', partition: 2, naming: 'A', previous: undefined, updatedAt: AT });
    expect(await ledger.read('orders.v1', 2)).toEqual({
      topic: 'orders.v1',
      partition: 2,
      generation: 0,
      committedOffset: -1,
      lastObjectKey: null,
      lastRecordCount: 0,
      updatedAt: AT,
      naming: 'A',
    });
    // A second writer that also saw no entry loses.
    await expect(
      ledger.declareNaming(undefined, { topic: 'orders.v1', partition: 2, naming: 'B', previous: undefined, updatedAt: AT }),
    ).rejects.toThrow(LedgerConflictError);
    // A writer that read another naming, or another position, loses.
    const at = { generation: 0, committedOffset: -1 };
    await expect(ledger.declareNaming(at, { topic: 'orders.v1', partition: 2, naming: 'B', previous: 'C', updatedAt: AT })).rejects.toThrow(
      LedgerConflictError,
    );
    await expect(
      ledger.declareNaming(
        { generation: 0, committedOffset: 5 },
        { topic: 'orders.v1', partition: 2, naming: 'B', previous: 'A', updatedAt: AT },
      ),
    ).rejects.toThrow(LedgerConflictError);
    await ledger.declareNaming(at, { topic: 'orders.v1', partition: 2, naming: 'B', previous: 'A', updatedAt: AT });
    // A commit keeps the naming; the next declaration is conditional on it.
    await ledger.advance(at, commit(9));
    expect(await ledger.read('orders.v1', 2)).toMatchObject({ committedOffset: 9, naming: 'B' });
    await ledger.declareNaming(
      { generation: 0, committedOffset: 9 },
      { topic: 'orders.v1', partition: 2, naming: 'C', previous: 'B', updatedAt: AT },
    );
    expect(await ledger.read('orders.v1', 2)).toMatchObject({ committedOffset: 9, naming: 'C', lastObjectKey: 'k9' });
  });

  it('an entry recorded before naming existed is declared with no previous naming', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(4, { partition: 3 }));
    await ledger.declareNaming(
      { generation: 0, committedOffset: 4 },
      { topic: 'orders.v1', partition: 3, naming: 'A', previous: undefined, updatedAt: AT },
    );
    expect((await ledger.read('orders.v1', 3))?.naming).toBe('A');
  });

  it('keeps skipped ranges that a commit does not set, and replaces them when one does', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(9, { partition: 4, skippedRanges: [gap(0, 4)] }));
    await ledger.advance({ generation: 0, committedOffset: 9 }, commit(19, { partition: 4 }));
    expect((await ledger.read('orders.v1', 4))?.skippedRanges).toEqual([gap(0, 4)]);
    await ledger.advance({ generation: 0, committedOffset: 19 }, commit(39, { partition: 4, skippedRanges: [gap(0, 4), gap(20, 29)] }));
    expect(await ledger.read('orders.v1', 4)).toMatchObject({ committedOffset: 39, skippedRanges: [gap(0, 4), gap(20, 29)] });
  });

  it('records the topic id a commit carries, keeps it through commits and declarations without one, replaces it when one does', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(9, { partition: 5, topicId: 'id-A' }));
    expect(await ledger.read('orders.v1', 5)).toMatchObject({ committedOffset: 9, topicId: 'id-A' });
    await ledger.advance({ generation: 0, committedOffset: 9 }, commit(19, { partition: 5 }));
    await ledger.declareNaming(
      { generation: 0, committedOffset: 19 },
      { topic: 'orders.v1', partition: 5, naming: 'A', previous: undefined, updatedAt: AT },
    );
    expect(await ledger.read('orders.v1', 5)).toMatchObject({ committedOffset: 19, naming: 'A', topicId: 'id-A' });
    // The ledger does not judge the id (the writer does, before it writes): a commit carrying another replaces it.
    await ledger.advance({ generation: 0, committedOffset: 19 }, commit(29, { partition: 5, topicId: 'id-B' }));
    expect(await ledger.read('orders.v1', 5)).toMatchObject({ committedOffset: 29, topicId: 'id-B' });
  });

  it('an entry committed without a topic id reads without one (older entries, the Lambda path)', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(4, { partition: 6 }));
    expect(await ledger.read('orders.v1', 6)).not.toHaveProperty('topicId');
    await ledger.declareNaming(undefined, { topic: 'orders.v1', partition: 7, naming: 'A', previous: undefined, updatedAt: AT });
    expect(await ledger.read('orders.v1', 7)).not.toHaveProperty('topicId');
  });
}

function adminCases(impl: LedgerImplementation): void {
  it('the operator reset: conditional on the position read, appends to the reset history; the old generation then loses', async () => {
    const opened = await impl.open();
    await opened.ledger.advance(undefined, commit(40, { partition: 3 }));
    await opened.withAdmin!(async (admin) => {
      await expect(admin.reset('orders.v1', 3, { generation: 0, committedOffset: 39 }, resetOf('stale', 39, 1, 99))).rejects.toThrow(
        LedgerConflictError,
      );
      await admin.reset('orders.v1', 3, { generation: 0, committedOffset: 40 }, resetOf('r1', 40, 1, 99));
      await admin.reset('orders.v1', 3, { generation: 1, committedOffset: 99 }, resetOf('r2', 99, 2, 99));
      const after = await admin.get('orders.v1', 3);
      expect(after).toMatchObject({ generation: 2, committedOffset: 99, lastObjectKey: null });
      expect(after?.resets.map((r) => r.id)).toEqual(['r1', 'r2']);
      expect((await admin.list({ topic: 'orders.v1' })).map((e) => e.partition)).toContain(3);
    });
    // The sink's writer of the old generation loses.
    await expect(opened.ledger.advance({ generation: 0, committedOffset: 40 }, commit(41, { partition: 3 }))).rejects.toThrow(
      LedgerConflictError,
    );
  });

  // A topic deleted and created again is refused by its id until an operator resets the partition:
  // the reset must clear the id, or the refusal could never be lifted.
  it('a reset starts the new generation with no topic id', async () => {
    const opened = await impl.open();
    await opened.ledger.advance(undefined, commit(9, { topicId: 'id-A' }));
    const entry = await opened.withAdmin!(async (admin) => {
      await admin.reset('orders.v1', 2, { generation: 0, committedOffset: 9 }, { ...resetOf('r1', 9, 1, -1), reason: 'topic re-created' });
      return admin.get('orders.v1', 2);
    });
    expect(entry).toMatchObject({ generation: 1, committedOffset: -1 });
    expect(entry).not.toHaveProperty('topicId');
  });

  it('a reset expecting no entry creates one where there is none and loses where there is one; list sorts and filters', async () => {
    const opened = await impl.open();
    await opened.ledger.advance(undefined, commit(5, { partition: 1 }));
    await opened.ledger.advance(undefined, commit(5, { topic: 'audit.v1', partition: 0 }));
    await opened.withAdmin!(async (admin) => {
      await expect(admin.reset('orders.v1', 1, undefined, resetOf('taken', -1, 1, 0))).rejects.toThrow(LedgerConflictError);
      expect(await admin.get('orders.v1', 0)).toBeUndefined();
      await admin.reset('orders.v1', 0, undefined, resetOf('new', -1, 1, 0));
      expect(await admin.get('orders.v1', 0)).toMatchObject({ generation: 1, committedOffset: 0, resets: [{ id: 'new' }] });
      expect((await admin.list()).map((e) => `${e.topic}-${e.partition}`)).toEqual(['audit.v1-0', 'orders.v1-0', 'orders.v1-1']);
      expect((await admin.list({ topic: 'audit.v1' })).map((e) => e.partition)).toEqual([0]);
    });
  });

  it('recordPrune appends to the prune history and leaves the rest; a partition with no entry has nothing to prune', async () => {
    const opened = await impl.open();
    await opened.ledger.advance(undefined, commit(9));
    const prune = (id: string): LedgerPrune => ({
      id,
      at: AT,
      by: 'test',
      reason: 'contract',
      generations: [0],
      fromOffset: 0,
      toOffset: 4,
      objects: 2,
      bytes: 100,
    });
    await opened.withAdmin!(async (admin) => {
      await admin.recordPrune('orders.v1', 2, prune('p1'));
      await admin.recordPrune('orders.v1', 2, prune('p2'));
      expect(await admin.get('orders.v1', 2)).toMatchObject({ ...commit(9), prunes: [prune('p1'), prune('p2')] });
      await expect(admin.recordPrune('orders.v1', 8, prune('p3'))).rejects.toThrow(LedgerConflictError);
      expect(await admin.get('orders.v1', 8)).toBeUndefined();
    });
  });
}
