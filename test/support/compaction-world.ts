/**
 * The world of test/unit/compaction-property.test.ts (see its header for what is checked): a
 * partition's records, the in-memory bucket and ledger, the handler and compactor actors under
 * fast-check's scheduler with faults injected at port calls, and the check run after every state
 * change.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { ObjectExistsError } from '../../lib/core/errors.ts';
import { compactPartition } from '../../lib/compaction/compactor.ts';
import { collect, memoryCompaction } from '../../lib/compaction/in-memory.ts';
import { chainFrom } from '../../lib/compaction/plan.ts';
import type { CompactionPorts, StagedObject } from '../../lib/compaction/ports.ts';
import { offsetsIn, stagedObjectFor } from '../../lib/compaction/testing.ts';
import { stagedObjectOf } from '../../lib/compaction/merge.ts';
import { fromMetadata } from '../../lib/layout/object-metadata.ts';

/** The staging prefix the handlers write to. */
export const STAGING = 'staging/';
const SINK = 'topics/';
/** The one topic-partition of every scenario. */
export const T = 'orders';
/** The one topic-partition of every scenario. */
export const P = 0;
/** The compactor's maxDelayMs: a staged object this old is due. */
export const MAX_DELAY_MS = 1000;

/** A fault the test injects; anything else thrown fails the property. */
class InjectedFault extends Error {
  constructor(where: string) {
    super(`injected fault at ${where}`);
    this.name = 'InjectedFault';
  }
}
/** The handler found the ledger moved under it: a new invocation starts from the ledger. */
class Redeliver extends Error {}

type FaultKind = 'lost' | 'landed' | 'late';

interface Scenario {
  /** Offsets of the partition's records, ascending, with gaps. */
  readonly offsets: readonly number[];
  /** Directory (time partition) of each record. */
  readonly hours: readonly number[];
  /** Records per handler batch. */
  readonly batches: readonly number[];
  /** Target as a number of records' worth of staged bytes (roughly). */
  readonly targetBytes: number;
  readonly faults: ReadonlyMap<number, FaultKind>;
  /** An operator's reset at the `at`-th port call: a new generation from `back` offsets below the committed one (negative: past it). */
  readonly reset?: { readonly at: number; readonly back: number };
}

/** Random scenarios: offsets with gaps, their hours, the handlers' batches, the target, faults and maybe a reset. */
export const scenarios = fc
  .record({
    gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 30 }),
    hourRuns: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 6 }),
    batches: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }),
    targetBytes: fc.integer({ min: 30, max: 400 }),
    faults: fc.array(fc.tuple(fc.nat(120), fc.constantFrom<FaultKind>('lost', 'landed', 'late')), { maxLength: 8 }),
    reset: fc.option(fc.record({ at: fc.nat(80), back: fc.integer({ min: -2, max: 8 }) }), { nil: undefined }),
  })
  .map(({ gaps, hourRuns, batches, targetBytes, faults, reset }): Scenario => {
    const offsets: number[] = [];
    for (const gap of gaps) offsets.push((offsets.at(-1) ?? -1) + gap);
    // Records fall into the hours in runs, going back to an earlier hour as late records do.
    const hours = offsets.map((_, i) => hourRuns[Math.floor((i * hourRuns.length) / offsets.length)]!);
    return { offsets, hours, batches, targetBytes, faults: new Map(faults), ...(reset ? { reset } : {}) };
  });

/** One run of the world: the bucket, the ledger, the ports wrapped in the scheduler and the faults. */
export function worldOf(scenario: Scenario, s: fc.Scheduler | undefined, commitCondition: 'equal' | 'below' = 'equal') {
  let now = 0;
  const clock = { now: () => now };
  const { bucket, ledger, ports: plain } = memoryCompaction(clock, STAGING);
  const settings = { stagingPrefix: STAGING, sinkPrefix: SINK, targetBytes: scenario.targetBytes, maxDelayMs: MAX_DELAY_MS };
  const violations: string[] = [];
  let calls = 0;

  /** One port call: waits for its turn, then lands, fails or lands late as the scenario says; checks after every landing. */
  async function call<R>(where: string, send: () => R | Promise<R>, mutates: boolean): Promise<R> {
    if (s) await s.schedule(Promise.resolve(where), where);
    now += 100;
    if (scenario.reset?.at === calls) replay(scenario.reset.back);
    const fault = scenario.faults.get(calls++);
    if (fault === 'lost' || (fault === 'late' && !mutates)) throw new InjectedFault(where);
    if (fault === 'late' && s) {
      void s
        .schedule(Promise.resolve(`${where} (late)`))
        .then(async () => {
          try {
            await send();
          } catch {
            // A late conditional request that fails its condition changes nothing.
          }
          check(`${where} landed late`);
        })
        .catch(() => undefined);
      throw new InjectedFault(where);
    }
    const result = await send();
    if (mutates) check(where);
    if (fault === 'landed') throw new InjectedFault(`${where} (reply lost)`);
    return result;
  }

  const ports: CompactionPorts = {
    clock,
    cursor: {
      read: (topic, partition) => call('cursor read', () => plain.cursor.read(topic, partition), false),
      advance: (topic, partition, expected, next) =>
        call('cursor advance', () => plain.cursor.advance(topic, partition, expected, next), true),
    },
    staging: {
      list: (topic, partition) => call('staging list', () => plain.staging.list(topic, partition), false),
      open: (key) => plain.staging.open(key),
      delete: (key) => call('staging delete', () => plain.staging.delete(key), true),
    },
    sink: {
      head: (key) => call('sink head', () => plain.sink.head(key), false),
      // The request carries the body: read it before sending, so that a late landing writes what was read.
      create: async (object) => {
        const body = await collect(object.body);
        return call(
          'sink create',
          () => bucket.putIfAbsent(object.key, { body, contentType: object.contentType, metadata: object.metadata }),
          true,
        );
      },
    },
  };

  const recordsIn = (from: number, to: number) => scenario.offsets.filter((o) => o > from && o <= to);
  const hourOf = (offset: number) => `hour=${scenario.hours[scenario.offsets.indexOf(offset)]}`;

  /** An operator's reset (`msk-s3-sink reset`): generation + 1, delivery again from `back` offsets below the committed one. */
  function replay(back: number): void {
    const entry = ledger.ensure(T, P);
    const toOffset = Math.max(-1, entry.committedOffset - back);
    entry.resets.push({
      fromGeneration: entry.generation,
      fromOffset: entry.committedOffset,
      toGeneration: entry.generation + 1,
      toOffset,
    });
    entry.generation += 1;
    entry.committedOffset = toOffset;
    check('a reset');
  }

  /** The invariants, read back from the bucket and the ledger, generation window by generation window. */
  function check(after: string): void {
    const entry = ledger.entry(T, P);
    if (!entry) return;
    const fail = (what: string) => violations.push(`after ${after}: ${what}`);
    // The generation windows as verify defines them, computed here apart from the code under test.
    const cursor = entry.cursor ?? { generation: entry.resets[0]?.fromGeneration ?? entry.generation, offset: -1 };
    const windows: Array<{ generation: number; start: number; end: number; currentUpTo: number }> = [];
    let start = -1;
    for (const reset of entry.resets) {
      windows.push({
        generation: reset.fromGeneration,
        start,
        end: reset.fromOffset,
        currentUpTo: Math.min(reset.fromOffset, reset.toOffset),
      });
      start = reset.toOffset;
    }
    windows.push({ generation: entry.generation, start, end: entry.committedOffset, currentUpTo: entry.committedOffset });
    const sink = bucket.keys(SINK).map((key) => {
      const object = bucket.objects.get(key)!;
      return { key, d: fromMetadata(key, object.metadata), offsets: offsetsIn(object.body, 'gzip') };
    });
    const staged = bucket
      .keys(STAGING)
      .map((key) => {
        const o = bucket.objects.get(key)!;
        return stagedObjectOf(STAGING, {
          key,
          size: o.body.byteLength,
          stagedAt: o.storedAt,
          contentType: o.contentType,
          metadata: o.metadata,
        });
      })
      .filter((o): o is StagedObject => o !== undefined);
    if (!windows.some((w) => w.generation === cursor.generation)) fail(`the cursor is in generation ${cursor.generation}, no window`);
    let pending = 0;
    for (const w of windows) {
      const current = (offsets: number[]) => offsets.filter((o) => o > w.start && o <= w.currentUpTo);
      // The sink prefix: per generation one chain from the window's start, each object exactly the records of its range.
      const compacted = sink.filter((o) => o.d.generation === w.generation).sort((a, b) => a.d.firstOffset - b.d.firstOffset);
      let end = w.start;
      for (const { key, d, offsets } of compacted) {
        if (d.afterOffset !== end)
          fail(`${key} continues from ${d.afterOffset}, the sink chain of generation ${w.generation} ends at ${end}`);
        const expected = recordsIn(d.afterOffset, d.lastOffset);
        if (JSON.stringify(offsets) !== JSON.stringify(expected)) fail(`${key} holds ${offsets} instead of ${expected}`);
        if (offsets.some((o) => hourOf(o) !== hourOf(offsets[0]!))) fail(`${key} spans two directories`);
        end = d.lastOffset;
      }
      // Both layers: the sink up to the cursor, the staged chain from it up to the window's end.
      let seen: number[];
      if (w.generation < cursor.generation) {
        seen = current(compacted.flatMap((o) => o.offsets));
      } else {
        const from = w.generation === cursor.generation ? cursor.offset : w.start;
        const below = compacted.filter((o) => o.d.lastOffset <= from);
        if (from !== w.start && below.at(-1)?.d.lastOffset !== from) fail(`the cursor ${from} ends no sink object`);
        pending += compacted.length - below.length;
        const { chain } = chainFrom(staged, { generation: w.generation, offset: from }, w.end);
        if (from < w.currentUpTo && (chain.at(-1)?.descriptor.lastOffset ?? from) !== w.end) {
          fail(`the staged chain of generation ${w.generation} from ${from} does not reach ${w.end}`);
        }
        seen = current([...below.flatMap((o) => o.offsets), ...chain.flatMap((o) => offsetsIn(bucket.objects.get(o.key)!.body, 'gzip'))]);
      }
      const expected = recordsIn(w.start, w.currentUpTo);
      if (JSON.stringify(seen) !== JSON.stringify(expected)) {
        fail(`both layers hold ${seen} of generation ${w.generation}, its current records are ${expected}`);
      }
    }
    if (pending > 1) fail(`${pending} sink objects past the cursor`);
  }

  /** One handler invocation: from the committed offset, stage the batch object by object (cut at a directory change), commit each. */
  async function deliver(size: number): Promise<void> {
    const read = await call('handler read', () => ({ ...ledger.ensure(T, P) }), false);
    const generation = read.generation;
    let committed = read.committedOffset;
    let pending = recordsIn(committed, Number.MAX_SAFE_INTEGER).slice(0, size);
    while (pending.length > 0) {
      const cut = pending.findIndex((o) => hourOf(o) !== hourOf(pending[0]!));
      const offsets = cut < 0 ? pending : pending.slice(0, cut);
      const object = stagedObjectFor(STAGING, {
        topic: T,
        partition: P,
        generation,
        afterOffset: committed,
        offsets,
        path: hourOf(offsets[0]!),
      });
      let last = offsets.at(-1)!;
      try {
        await call('handler put', () => bucket.putIfAbsent(object.key, object), true);
      } catch (error) {
        if (!(error instanceof ObjectExistsError)) throw error;
        const head = await call('handler head', () => bucket.head(object.key), false);
        if (!head) throw new Redeliver();
        last = Number(head.metadata['last-offset']);
      }
      const from = committed;
      const moved = await call(
        'handler commit',
        () => {
          const entry = ledger.ensure(T, P);
          if (entry.generation !== generation) return Number.NEGATIVE_INFINITY; // a reset: LedgerResetError, redelivered
          const holds = commitCondition === 'equal' ? entry.committedOffset === from : entry.committedOffset < last;
          if (!holds) return entry.committedOffset;
          entry.committedOffset = last;
          return undefined;
        },
        true,
      );
      // C′: someone moved the ledger. At or past our end: done. Below it: what we staged does not continue the chain.
      if (moved !== undefined && moved < last) throw new Redeliver();
      committed = Math.max(last, moved ?? last);
      pending = pending.filter((o) => o > committed);
    }
  }

  async function handler(batches: readonly number[]): Promise<void> {
    for (const size of batches) {
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          await deliver(size);
          break;
        } catch (error) {
          if (!(error instanceof InjectedFault || error instanceof Redeliver)) throw error;
        }
      }
    }
  }

  async function compactor(rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      try {
        await compactPartition(T, P, settings, ports, { maxRuns: 2 });
      } catch (error) {
        if (!(error instanceof InjectedFault)) throw error;
      }
    }
  }

  return { bucket, ledger, plain, settings, violations, check, handler, compactor, advance: (ms: number) => (now += ms), recordsIn };
}

/** After the storm: a fault-free compactor with every run due takes the cursor to the committed offset. */
export async function settle(world: ReturnType<typeof worldOf>): Promise<void> {
  world.advance(100 * MAX_DELAY_MS);
  await compactPartition(T, P, world.settings, world.plain);
  // With the cursor at the committed offset, the check's "both layers" is the sink prefix alone.
  world.check('the final compactor');
  const entry = world.ledger.entry(T, P);
  if (!entry) return;
  expect(entry.cursor ?? { generation: 0, offset: -1 }).toEqual({ generation: entry.generation, offset: entry.committedOffset });
  // Nothing at or below the cursor is left in staging, nor of an older generation: garbage too is gone.
  const left = world.bucket.keys(STAGING).map((key) => fromMetadata(key, world.bucket.objects.get(key)!.metadata));
  expect(left.filter((d) => d.generation < entry.generation || d.firstOffset <= entry.committedOffset)).toEqual([]);
}
/** `settle`, recording a failure instead of throwing it. */
export async function settleOrFail(world: ReturnType<typeof worldOf>): Promise<void> {
  try {
    await settle(world);
  } catch (error) {
    world.violations.push(`settle: ${(error as Error).message}`);
  }
}
