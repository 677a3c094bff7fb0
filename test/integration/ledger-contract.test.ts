/**
 * The offset ledger contract (test/support/ledger-contract.ts) run against every implementation: in
 * memory (what the unit tests use), DynamoDB Local (the run's, from the global setup), the
 * standalone worker's file, and moto's DynamoDB (`moto[server]` from PyPI: a DynamoDB written by
 * others, see testkit/emulators/moto-server.ts). Then what only the file ledger does.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { FileLedgerAdmin } from '../../lib/ledger/file-ledger-admin.ts';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { createLedgerTable, localDynamoDbClient } from '../../testkit/emulators/clients.ts';
import { type MotoServer, startMotoServer } from '../../testkit/emulators/moto-server.ts';
import { createTestLedgerTable, uniqueName } from '../support/emulators.ts';
import {
  AT,
  commit,
  gap,
  LedgerCapability,
  type LedgerImplementation,
  type LedgerUnderTest,
  ledgerContract,
} from '../support/ledger-contract.ts';
import { MemoryLedger } from '../../testkit/memory-ports.ts';

const dirs: string[] = [];
const files: FileOffsetLedger[] = [];
const clients: DynamoDBClient[] = [];
let moto: MotoServer | undefined;
// One moto for the file; the global setup has installed it (a cold start on a loaded machine is slow).
beforeAll(async () => {
  moto = await startMotoServer();
}, 300_000);
afterAll(async () => {
  for (const file of files) await file.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const client of clients) client.destroy();
  await moto?.stop();
});

/** The DynamoDB ledger and its admin on a fresh table that `client` reaches. */
function onTable(client: DynamoDBClient, tableName: string): LedgerUnderTest {
  const admin = new LedgerAdmin({ client, tableName });
  return { ledger: new DynamoDbOffsetLedger({ client, tableName }), withAdmin: (use) => use(admin) };
}

const implementations: readonly LedgerImplementation[] = [
  // MemoryLedger's reset is a test helper, not the admin port.
  { name: 'memory', capabilities: [], open: async () => ({ ledger: new MemoryLedger() }) },
  {
    name: 'DynamoDB Local',
    capabilities: [LedgerCapability.admin],
    async open() {
      const table = await createTestLedgerTable('contract');
      clients.push(table.client);
      return onTable(table.client, table.tableName);
    },
  },
  {
    name: 'file',
    capabilities: [LedgerCapability.admin],
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'ledger-contract-'));
      dirs.push(dir);
      const path = join(dir, 'offsets.json');
      let ledger = FileOffsetLedger.open(path);
      files.push(ledger);
      return {
        get ledger() {
          return ledger;
        },
        // The file's admin takes the lock the worker holds: the worker's ledger is closed first.
        async withAdmin(use) {
          await ledger.close();
          try {
            return await use(new FileLedgerAdmin(path));
          } finally {
            ledger = FileOffsetLedger.open(path);
            files.push(ledger);
          }
        },
      };
    },
  },
  {
    name: "moto's DynamoDB",
    capabilities: [LedgerCapability.admin],
    async open() {
      const client = localDynamoDbClient(moto!.endpoint);
      clients.push(client);
      const tableName = uniqueName('contract');
      await createLedgerTable(client, tableName);
      return onTable(client, tableName);
    },
  },
];

for (const implementation of implementations) ledgerContract(implementation);

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
