/**
 * The parts of the `OffsetLedger` contract the delivery path's edges rely on — recording naming
 * settings before the first object, and skipped ranges that plain commits leave alone — as test
 * cases to register against any implementation (`ledger-contract.test.ts`: memory, DynamoDB
 * Local, the standalone worker's file; `conformance.test.ts`: moto's DynamoDB).
 */
import { expect, it } from 'vitest';
import { LedgerConflictError } from '../../lib/core/errors.ts';
import type { LedgerEntry, OffsetLedger, SkippedRange } from '../../lib/core/ports.ts';

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

/** Registers the contract's cases; `open` gives a fresh ledger for each case. */
export function ledgerContract(open: () => Promise<OffsetLedger>): void {
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
