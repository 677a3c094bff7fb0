/**
 * Exactly once across both layers, by property: two compactors and two handler invocations run
 * interleaved in an order fast-check picks, with faults injected at port calls (the request not
 * landed; landed with its reply lost; landed late, after the caller gave up). After every state
 * change the check reads the bucket and the ledger back and requires:
 *
 * - the sink prefix is one chain from the partition's start: exactly the records of a prefix of
 *   the partition, each once, in order, in objects of one directory each; the cursor ends one of
 *   them, and at most one object (written, the cursor not yet moved) lies past it;
 * - the records at or below the cursor from the sink prefix, with the staged chain from the cursor
 *   to the committed offset, are exactly the committed records, each once: never both, never neither.
 *
 * At the end a fault-free compactor, with every run due, must bring the cursor to the committed
 * offset and leave nothing at or below it in staging.
 *
 * The handler model commits conditionally on the committed offset it read (the object's
 * after-offset), as compaction requires (docs/compaction.md, "What the handler must change"); the
 * last case shows that the delivery protocol's present condition (only "below the new offset")
 * loses records once staged objects are deleted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactPartition } from '../../lib/compaction/compactor.ts';
import { stagedObjectFor } from '../../lib/compaction/testing.ts';
import { MAX_DELAY_MS, P, STAGING, scenarios, settle, settleOrFail, T, worldOf } from '../support/compaction-world.ts';

describe('compaction: exactly once across staging and the sink prefix, under crashes and concurrency', () => {
  it('two compactors and two handler invocations interleaved, a fault at any call', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarios, async (s, scenario) => {
        const world = worldOf(scenario, s);
        const half = Math.ceil(scenario.batches.length / 2);
        const actors = Promise.all([
          world.handler(scenario.batches.slice(0, half)),
          world.handler(scenario.batches.slice(half)),
          world.compactor(6),
          world.compactor(6),
        ]);
        await s.waitFor(actors);
        await s.waitAll();
        expect(world.violations).toEqual([]);
        await settle(world);
        expect(world.violations).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['below', 'loses records'],
    ['equal', 'keeps every record'],
  ] as const)("a stale handler whose key was compacted and deleted: a commit conditional on '%s' %s", async (condition, _outcome) => {
    const world = worldOf(
      { offsets: [0, 1, 2, 3], hours: [0, 0, 0, 0], batches: [], targetBytes: 1 << 20, faults: new Map() },
      undefined,
      condition,
    );
    const stage = (afterOffset: number, offsets: number[]) => {
      const object = stagedObjectFor(STAGING, { topic: T, partition: P, generation: 0, afterOffset, offsets, path: 'hour=0' });
      world.bucket.putIfAbsent(object.key, object);
    };
    /** The handler's commit of an object ending at `last` that continues from `from`, under either condition. */
    const commit = (from: number, last: number): boolean => {
      const entry = world.ledger.ensure(T, P);
      if (condition === 'equal' ? entry.committedOffset !== from : entry.committedOffset >= last) return false;
      entry.committedOffset = last;
      world.check(`commit ${from} → ${last}`);
      return true;
    };
    // Invocation A reads committed -1 and stalls. Invocation B stages 0-1 and commits.
    stage(-1, [0, 1]);
    commit(-1, 1);
    // The compactor writes 0-1 to the sink prefix, moves its cursor to 1 and deletes the staged object.
    world.advance(MAX_DELAY_MS);
    await compactPartition(T, P, world.settings, world.plain);
    expect(world.ledger.entry(T, P)!.cursor).toEqual({ generation: 0, offset: 1 });
    // A wakes up: its If-None-Match create of key 0 succeeds (the key was deleted), with its own range 0-3.
    stage(-1, [0, 1, 2, 3]);
    if (!commit(-1, 3)) {
      // C′ with the equality condition: the ledger is at 1, below A's end: A goes on from there.
      stage(1, [2, 3]);
      commit(1, 3);
    }
    await settleOrFail(world);
    if (condition === 'below') {
      // Records 2 and 3 sit only in a staged object that starts below the cursor: garbage. Lost.
      expect(world.violations).toContain('after commit -1 → 3: the staged chain of generation 0 from 1 does not reach 3');
    } else {
      expect(world.violations).toEqual([]);
    }
  });
});
