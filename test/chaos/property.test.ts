import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../support/chaos.ts';
import { useChaosWorld } from '../support/chaos-world.ts';
import { exactlyOnce } from '../../testkit/read-back.ts';

/**
 * Property: whatever the batch boundaries, redeliveries (rewinds of the consumer group),
 * concurrency and a crash anywhere, S3 ends up holding every record exactly once.
 * fast-check draws the scenario and shrinks a failing one to a small replayable case.
 */
describe('property: exactly once over random boundaries and redeliveries', () => {
  const world = useChaosWorld();

  it('holds for random scenarios', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
          partitions: fc.integer({ min: 1, max: 3 }),
          records: fc.integer({ min: 1, max: 40 }),
          maxBatch: fc.integer({ min: 1, max: 15 }),
          concurrency: fc.integer({ min: 1, max: 2 }),
          rewindRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
          crash: fc.option(fc.record({ invocation: fc.nat(4), at: fc.nat(8), landed: fc.boolean() }), { nil: undefined }),
          reportBatchItemFailures: fc.boolean(),
        }),
        async (drawn) => {
          const result = await runScenario(world(), {
            ...drawn,
            name: `property-${run++}`,
            env: drawn.reportBatchItemFailures ? { SINK_REPORT_BATCH_ITEM_FAILURES: 'true' } : {},
          });
          expect(exactlyOnce(result.check), JSON.stringify(result.check)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
