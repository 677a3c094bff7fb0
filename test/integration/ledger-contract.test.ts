/**
 * The parts of the `OffsetLedger` contract the delivery path's edges rely on
 * (test/support/ledger-contract.ts), run against every implementation: in memory, DynamoDB Local,
 * and the standalone worker's file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import type { LedgerAdminPort, LedgerReset } from '../../lib/ledger/admin.ts';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import type { OffsetLedger } from '../../lib/core/ports.ts';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { createTestLedgerTable } from '../support/emulators.ts';
import { AT, commit, gap, ledgerContract } from '../support/ledger-contract.ts';
import { MemoryLedger } from '../../testkit/memory-ports.ts';

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

describe.each(implementations)('OffsetLedger contract: %s', (_name, open) => ledgerContract(open));

describe('FileOffsetLedger keeps naming, skipped ranges and the topic id across a restart', () => {
  it('reads back what it wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
    dirs.push(dir);
    const path = join(dir, 'offsets.json');
    const first = FileOffsetLedger.open(path);
    await first.declareNaming(undefined, { topic: 'orders.v1', partition: 2, naming: 'A', previous: undefined, updatedAt: AT });
    await first.advance({ generation: 0, committedOffset: -1 }, commit(9, { skippedRanges: [gap(0, 4)], topicId: 'id-A' }));
    await first.close();
    const second = FileOffsetLedger.open(path);
    files.push(second);
    expect(await second.read('orders.v1', 2)).toMatchObject({
      committedOffset: 9,
      naming: 'A',
      skippedRanges: [gap(0, 4)],
      topicId: 'id-A',
    });
  });

  it('refuses a file whose topic id is not a non-empty string, saying where', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
    dirs.push(dir);
    const path = join(dir, 'offsets.json');
    for (const topicId of [42, '']) {
      writeFileSync(path, JSON.stringify({ format: 'msk-s3-sink-file-ledger', version: 1, entries: [{ ...commit(9), topicId }] }));
      expect(() => FileOffsetLedger.open(path)).toThrow(/offsets\.json: entries\[0\]\.topicId is malformed/);
    }
  });
});

// A topic deleted and created again is refused by its id until an operator resets the partition:
// the reset must clear the id, or the refusal could never be lifted.
const admins: Array<[string, () => Promise<{ ledger: OffsetLedger; admin: LedgerAdminPort; done: () => Promise<void> }>]> = [
  [
    'DynamoDB Local',
    async () => {
      const table = await createTestLedgerTable('contract-reset');
      return {
        ledger: new DynamoDbOffsetLedger({ client: table.client, tableName: table.tableName }),
        admin: new LedgerAdmin({ client: table.client, tableName: table.tableName }),
        done: async () => undefined,
      };
    },
  ],
  [
    'file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
      dirs.push(dir);
      const path = join(dir, 'offsets.json');
      const ledger = FileOffsetLedger.open(path);
      files.push(ledger);
      // The file's reset takes the lock the worker holds: the worker's ledger is closed first.
      return { ledger, admin: new FileLedgerAdmin(path), done: () => ledger.close() };
    },
  ],
];

describe.each(admins)('A reset clears the topic id: %s', (_name, open) => {
  it('starts the new generation with no topic id', async () => {
    const { ledger, admin, done } = await open();
    await ledger.advance(undefined, commit(9, { topicId: 'id-A' }));
    await done();
    const reset: LedgerReset = {
      id: 'r1',
      at: AT,
      by: 'ops',
      reason: 'topic re-created',
      fromGeneration: 0,
      fromOffset: 9,
      toGeneration: 1,
      toOffset: -1,
    };
    await admin.reset('orders.v1', 2, { generation: 0, committedOffset: 9 }, reset);
    const entry = await admin.get('orders.v1', 2);
    expect(entry).toMatchObject({ generation: 1, committedOffset: -1 });
    expect(entry).not.toHaveProperty('topicId');
  });
});
