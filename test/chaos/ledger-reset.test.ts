import { describe, expect, it } from 'vitest';
import { check, exactlyOnce } from '../../testkit/read-back.ts';
import { resetLedger, type Scenario } from '../support/chaos.ts';
import { runAll, useChaosWorld } from '../support/chaos-world.ts';

/**
 * An operator resets (replays) a partition while an invocation is between its object write and
 * its ledger commit. The invocation must not commit into the new generation; the replayed range
 * is delivered again, exactly once, under the new generation's keys, and the old generation
 * keeps what it had, without duplicates.
 */
describe('chaos: a ledger reset during processing', () => {
  const world = useChaosWorld();

  it('replays the range once in the new generation (40 schedules)', async () => {
    const resets = new Map<string, { replayFrom: number; committedBefore: number }>();
    const scenarios = Array.from(
      { length: 40 },
      (_, index): Scenario => ({
        name: `reset-${index}`,
        seed: 80_000 + index,
        partitions: 2,
        records: 30,
        maxBatch: 8,
        rewindRate: 0,
        afterRound: async (round, context) => {
          if (round !== 2) return;
          const log = context.logs[0]!;
          const topic = log[0]!.topic;
          const ledger = await context.world.dynamoDb.send(
            new (await import('@aws-sdk/client-dynamodb')).GetItemCommand({
              TableName: context.world.table,
              Key: { topic: { S: topic }, partition: { N: '0' } },
              ConsistentRead: true,
            }),
          );
          const committedBefore = Number(ledger.Item?.['committedOffset']?.N ?? -1);
          const delivered = log.filter((record) => record.offset <= committedBefore);
          const replayFrom = delivered.length > 0 ? delivered[Math.floor(context.random() * delivered.length)]!.offset : log[0]!.offset;
          resets.set(`reset-${index}`, { replayFrom, committedBefore });
          // The reset lands while an invocation is in flight: after it read partition 0's ledger,
          // before its commit there. (A batch fetched before the reset but whose ledger read comes
          // after it would start above the replay point: the reset procedure disables the mapping
          // first so that no such invocation exists; see docs/protocol.md, assumption 1.)
          let done = false;
          await context.invoke({
            beforeCall: async (operation, _index, partition) => {
              if (operation === 'advance' && partition === 0 && !done) {
                done = true;
                await resetLedger(context.world, topic, 0, replayFrom - 1);
                context.group.commitAt(topic, 0, replayFrom);
              }
            },
          });
          if (!done) {
            await resetLedger(context.world, topic, 0, replayFrom - 1);
            context.group.commitAt(topic, 0, replayFrom);
          }
        },
      }),
    );
    const results = await runAll(world(), scenarios);
    for (const { scenario, result } of results) {
      const reset = resets.get(scenario.name)!;
      const [partition0, partition1] = result.logs;
      const lines0 = result.delivered.filter((line) => line.line['partition'] === 0);
      const lines1 = result.delivered.filter((line) => line.line['partition'] === 1);
      // The new generation holds the replayed range and everything after it, exactly once.
      const replayed = check(
        partition0!.filter((record) => record.offset >= reset.replayFrom),
        lines0,
        { generation: 1 },
      );
      expect(exactlyOnce(replayed), `${scenario.name}: ${JSON.stringify(replayed)}`).toBe(true);
      // The old generation still holds what it had committed, without duplicates.
      const old = check(
        partition0!.filter((record) => record.offset <= reset.committedBefore),
        lines0,
        { generation: 0 },
      );
      expect(old.lost, scenario.name).toEqual([]);
      expect(old.duplicated, scenario.name).toEqual([]);
      // The other partition is untouched by the reset.
      expect(exactlyOnce(check(partition1!, lines1)), scenario.name).toBe(true);
    }
  });
});
