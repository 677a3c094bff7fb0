import { describe, expect, it } from 'vitest';
import type { Scenario } from '../support/chaos.ts';
import { runAll, useChaosWorld, violations } from '../support/chaos-world.ts';

/**
 * Two (or three) invocations on the same partitions at once, as around a rebalance, on
 * overlapping batches with other boundaries, their port calls shuffled by random delays; some
 * also crash, and some leave a write on the wire that lands after they died.
 */
describe('chaos: concurrent invocations and late writes', () => {
  const world = useChaosWorld();

  it('two or three concurrent invocations on one partition deliver every record once (60 schedules)', async () => {
    const scenarios = Array.from(
      { length: 60 },
      (_, index): Scenario => ({
        name: `concurrent-${index}`,
        seed: 50_000 + index,
        partitions: 1 + (index % 2),
        records: 30,
        maxBatch: 12,
        concurrency: 2 + (index % 3 === 0 ? 1 : 0),
        rewindRate: 0.2,
        faultsFor: (_invocation, random) => ({ jitter: { random, maxMs: 4 } }),
      }),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    // The races happened: some invocations found objects created by others (412) or lost a commit.
    console.info(`concurrent schedules: ${scenarios.length}, invocations ${results.reduce((n, r) => n + r.result.invocations, 0)}`);
  });

  it('concurrent invocations that also crash deliver every record once (60 schedules)', async () => {
    const scenarios = Array.from(
      { length: 60 },
      (_, index): Scenario => ({
        name: `concurrent-crash-${index}`,
        seed: 60_000 + index,
        partitions: 2,
        records: 30,
        maxBatch: 10,
        concurrency: 2,
        faultsFor: (_invocation, random) => ({
          jitter: { random, maxMs: 3 },
          ...(random() < 0.25 ? { crashAt: Math.floor(random() * 7), landed: random() < 0.5 } : {}),
        }),
      }),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(results.reduce((n, r) => n + r.result.crashes, 0)).toBeGreaterThan(30);
  });

  it('a late write from a dead invocation never duplicates or loses a record (60 schedules)', async () => {
    const scenarios = Array.from(
      { length: 60 },
      (_, index): Scenario => ({
        name: `late-write-${index}`,
        seed: 70_000 + index,
        partitions: 2,
        records: 30,
        maxBatch: 10,
        concurrency: 1 + (index % 2),
        // Calls 2 and 3 of a two-partition invocation are its object PUTs.
        faultsFor: (_invocation, random) =>
          random() < 0.4 ? { crashAt: 2 + Math.floor(random() * 2), holdWrite: true, jitter: { random, maxMs: 2 } } : undefined,
      }),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    const late = results.reduce((n, r) => n + r.result.crashes, 0);
    expect(late).toBeGreaterThan(30);
    console.info(`late-write schedules: ${scenarios.length}, dead invocations with a write on the wire: ${late}`);
  });
});
