/**
 * Issue 15, item 1, for the bare `reset`: without a replay's fence, the ledger reset must wait
 * until the function timeout has passed since the mapping was disabled (an invocation still
 * running could deliver an old batch into the new generation). The replay itself:
 * ops-replay-in-flight.test.ts. The Lambda API is mocked (test/support/lambda-replay-mock.ts);
 * the ledger is on DynamoDB Local.
 */
import { describe, expect, it, vi } from 'vitest';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { createTestLedgerTable } from '../support/emulators.ts';
import { runCliCaptured } from '../support/cli.ts';
import { IN_FLIGHT, mockLambdaForReplay } from '../support/lambda-replay-mock.ts';

describe('replay with an invocation in flight', () => {
  const { api } = mockLambdaForReplay();
  const { topic, functionName } = IN_FLIGHT;

  it('a bare reset refuses until the function timeout has passed since the mapping was disabled; --force warns', async () => {
    const ledgerTable = await createTestLedgerTable('inflight-reset');
    const ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    await ledger.reset(topic, 3, undefined, {
      id: 'setup',
      at: 'x',
      by: 'test',
      reason: 'setup',
      fromGeneration: 0,
      fromOffset: -1,
      toGeneration: 0,
      toOffset: 99,
    });
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const env = { LEDGER_TABLE: ledgerTable.tableName, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: ledgerTable.endpoint };
    const disabledAt = Date.UTC(2026, 11, 3, 9);
    api.mappingState = 'Disabled';
    api.mappingChanged = disabledAt;
    const reset = (now: number, ...extra: string[]) =>
      runCliCaptured(['reset', '--topic', topic, '--partition', '3', '--to-offset', '50', '--reason', 'r', ...extra], env, () => now);
    try {
      // Disabled 30 s ago, function timeout 60 s: an invocation may still hold an old batch.
      const early = await reset(disabledAt + 30_000, '--function', functionName);
      expect(early.code).toBe(1);
      expect(early.stderr).toContain(
        `mapping mapping-1 is Disabled since 2026-12-03T09:00:00.000Z, but an invocation that started before can run until`,
      );
      expect(early.stderr).toContain('function timeout 60 s');
      expect(await ledger.get(topic, 3)).toMatchObject({ generation: 0, committedOffset: 99 });

      const forced = await reset(disabledAt + 30_000, '--force', '--id', 'forced-1');
      expect(forced.code).toBe(0);
      expect(forced.stderr).toMatch(/^WARNING: --force: the reset does not check that no invocation of the sink function is still running/);
      expect(await ledger.get(topic, 3)).toMatchObject({ generation: 1, committedOffset: 49 });

      // Later than the timeout (and its margin): allowed.
      const later = await reset(disabledAt + 71_000, '--function', functionName, '--to-offset', '60');
      expect(later.code, later.stderr).toBe(0);
      expect(await ledger.get(topic, 3)).toMatchObject({ generation: 2, committedOffset: 59 });

      // A replay's fence in place for longer than the timeout also proves it, whatever the mapping says.
      api.mappingState = 'Enabled';
      api.reserved = 0;
      api.tags = { 'msk-s3-sink:replay-fence': 'id=stuck-replay reserved=none fenced=2026-12-03T10:00:00.000Z' };
      expect((await reset(Date.UTC(2026, 11, 3, 10, 1), '--function', functionName)).code).toBe(1);
      const fenced = await reset(Date.UTC(2026, 11, 3, 10, 2), '--function', functionName, '--to-offset', '70');
      expect(fenced.code, fenced.stderr).toBe(0);
      expect(await ledger.get(topic, 3)).toMatchObject({ generation: 3, committedOffset: 69 });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reset --mapping checks that the mapping reads --topic', async () => {
    const ledgerTable = await createTestLedgerTable('inflight-mapping');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    try {
      const env = { LEDGER_TABLE: ledgerTable.tableName, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: ledgerTable.endpoint };
      api.mappingState = 'Disabled';
      const run = await runCliCaptured(
        ['reset', '--topic', 'payments', '--partition', '0', '--to-offset', '5', '--reason', 'r', '--mapping', 'mapping-1'],
        env,
        () => Date.UTC(2026, 11, 3, 9),
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`mapping mapping-1 reads ${topic}, not payments: check --mapping and --topic`);
      expect(await new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName }).list()).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
