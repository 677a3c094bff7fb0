import { afterAll, beforeAll } from 'vitest';
import type { ChaosWorld, Scenario, ScenarioResult } from './chaos.ts';
import { runScenario } from './chaos.ts';
import { createTestLedgerTable, type S3ForTest, startS3ForTest } from './emulators.ts';
import { exactlyOnce } from '../../testkit/read-back.ts';

/** Starts an S3 emulator and a ledger table for a test file; `world()` gives them to tests. */
export function useChaosWorld(): () => ChaosWorld & { readonly s3ForTest: S3ForTest } {
  let world: (ChaosWorld & { s3ForTest: S3ForTest }) | undefined;
  beforeAll(async () => {
    const s3ForTest = await startS3ForTest();
    const ledger = await createTestLedgerTable('chaos');
    world = { s3: s3ForTest.client, bucket: s3ForTest.bucket, dynamoDb: ledger.client, table: ledger.tableName, s3ForTest };
  });
  afterAll(async () => {
    await world?.s3ForTest.stop();
    world?.dynamoDb.destroy();
  });
  return () => {
    if (!world) throw new Error('chaos world not started');
    return world;
  };
}

/** Runs scenarios a few at a time; returns each scenario with its result. */
export async function runAll(
  world: ChaosWorld,
  scenarios: readonly Scenario[],
  parallel = 12,
): Promise<Array<{ scenario: Scenario; result: ScenarioResult }>> {
  const results: Array<{ scenario: Scenario; result: ScenarioResult }> = [];
  for (let start = 0; start < scenarios.length; start += parallel) {
    const group = scenarios.slice(start, start + parallel);
    results.push(...(await Promise.all(group.map(async (scenario) => ({ scenario, result: await runScenario(world, scenario) })))));
  }
  return results;
}

/** The scenarios whose read-back found something wrong, with what, for the failure message. */
export function violations(results: ReadonlyArray<{ scenario: Scenario; result: ScenarioResult }>): string[] {
  return results
    .filter(({ result }) => !exactlyOnce(result.check) || (result.deadLetters !== undefined && !exactlyOnce(result.deadLetters)))
    .map(({ scenario, result }) => {
      const { lost, duplicated, unexpected, outOfOrder, corrupted } = result.check;
      return (
        `${scenario.name} (seed ${scenario.seed}): lost ${lost.slice(0, 3)} (${lost.length}), duplicated ${duplicated.slice(0, 3)} ` +
        `(${duplicated.length}), unexpected ${unexpected.length}, out of order ${outOfOrder.length}, corrupted ${corrupted.length}` +
        (result.deadLetters
          ? `; dead letters lost ${result.deadLetters.lost.length} duplicated ${result.deadLetters.duplicated.length}`
          : '')
      );
    });
}
