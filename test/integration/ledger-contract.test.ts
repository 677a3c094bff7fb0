/**
 * The parts of the `OffsetLedger` contract the delivery path's edges rely on — recording naming
 * settings before the first object, and skipped ranges that plain commits leave alone — run
 * against every implementation: in memory, DynamoDB Local, and the standalone worker's file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { LedgerConflictError } from '../../lib/errors.ts';
import type { LedgerEntry, OffsetLedger, SkippedRange } from '../../lib/ports.ts';
import { FileOffsetLedger } from '../../lib/standalone/file-ledger.ts';
import { createTestLedgerTable } from '../support/emulators.ts';
import { MemoryLedger } from '../support/memory-ports.ts';

const dirs: string[] = [];
const files: FileOffsetLedger[] = [];
afterAll(async () => {
  for (const file of files) await file.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const implementations: Array<[string, () => Promise<OffsetLedger>]> = [
  ['memory', async () => new MemoryLedger()],
  [
    'DynamoDB Local',
    async () => {
      const table = await createTestLedgerTable('contract');
      return new DynamoDbOffsetLedger({ client: table.client, tableName: table.tableName });
    },
  ],
  [
    'file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
      dirs.push(dir);
      const ledger = FileOffsetLedger.open(join(dir, 'offsets.json'));
      files.push(ledger);
      return ledger;
    },
  ],
];

const AT = '2026-11-26T00:00:00.000Z';
const commit = (committedOffset: number, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  topic: 'orders.v1',
  partition: 2,
  generation: 0,
  committedOffset,
  lastObjectKey: `k${committedOffset}`,
  lastRecordCount: 1,
  updatedAt: AT,
  ...extra,
});
const gap = (fromOffset: number, toOffset: number): SkippedRange => ({ kind: 'gap', generation: 0, fromOffset, toOffset, detectedAt: AT });

describe.each(implementations)('OffsetLedger contract: %s', (_name, open) => {
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
      ledger.declareNaming({ generation: 0, committedOffset: 5 }, { topic: 'orders.v1', partition: 2, naming: 'B', previous: 'A', updatedAt: AT }),
    ).rejects.toThrow(LedgerConflictError);
    await ledger.declareNaming(at, { topic: 'orders.v1', partition: 2, naming: 'B', previous: 'A', updatedAt: AT });
    // A commit keeps the naming; the next declaration is conditional on it.
    await ledger.advance(at, commit(9));
    expect(await ledger.read('orders.v1', 2)).toMatchObject({ committedOffset: 9, naming: 'B' });
    await ledger.declareNaming({ generation: 0, committedOffset: 9 }, { topic: 'orders.v1', partition: 2, naming: 'C', previous: 'B', updatedAt: AT });
    expect(await ledger.read('orders.v1', 2)).toMatchObject({ committedOffset: 9, naming: 'C', lastObjectKey: 'k9' });
  });

  it('an entry recorded before naming existed is declared with no previous naming', async () => {
    const ledger = await open();
    await ledger.advance(undefined, commit(4, { partition: 3 }));
    await ledger.declareNaming({ generation: 0, committedOffset: 4 }, { topic: 'orders.v1', partition: 3, naming: 'A', previous: undefined, updatedAt: AT });
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
});

describe('FileOffsetLedger keeps naming and skipped ranges across a restart', () => {
  it('reads back what it wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
    dirs.push(dir);
    const path = join(dir, 'offsets.json');
    const first = FileOffsetLedger.open(path);
    await first.declareNaming(undefined, { topic: 'orders.v1', partition: 2, naming: 'A', previous: undefined, updatedAt: AT });
    await first.advance({ generation: 0, committedOffset: -1 }, commit(9, { skippedRanges: [gap(0, 4)] }));
    await first.close();
    const second = FileOffsetLedger.open(path);
    files.push(second);
    expect(await second.read('orders.v1', 2)).toMatchObject({ committedOffset: 9, naming: 'A', skippedRanges: [gap(0, 4)] });
  });
});
