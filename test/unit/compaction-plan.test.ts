/**
 * The compactor's pure pieces: following the staged chain, picking a run, merging bodies by
 * concatenation (gzip members, zstd frames), the compacted object's name and metadata, settings.
 */
import { describe, expect, it } from 'vitest';
import { CompactionSettingsError, StagedChainError } from '../../lib/compaction/errors.ts';
import { collect, MemoryBucket, memoryStagingStore } from '../../lib/compaction/in-memory.ts';
import { checkRun, compactedKey, compactedMetadata, concatenate, stagedObjectOf } from '../../lib/compaction/merge.ts';
import { chainFrom, garbageOf, isRun, type PlannedRun, planRun, RunReason } from '../../lib/compaction/plan.ts';
import type { StagedObject } from '../../lib/compaction/ports.ts';
import { progressOf } from '../../lib/compaction/progress.ts';
import { compactionSettingsFrom, DEFAULT_MAX_DELAY_MS, DEFAULT_TARGET_BYTES } from '../../lib/compaction/settings.ts';
import { offsetsIn, type StagedRange, stagedObjectFor, type TestCompression } from '../../lib/compaction/testing.ts';

const STAGING = 'staging/';
const base = { topic: 'orders', partition: 3, generation: 0 } as const;

/** A staged object as the staging store lists it, with a chosen size and time. */
function staged(
  range: Omit<StagedRange, 'topic' | 'partition' | 'generation'> & { generation?: number },
  size = 100,
  at = 0,
): StagedObject {
  const object = stagedObjectFor(STAGING, { ...base, ...range });
  const listed = stagedObjectOf(STAGING, {
    key: object.key,
    size,
    stagedAt: at,
    contentType: object.contentType,
    metadata: object.metadata,
  });
  if (!listed) throw new Error(`not a staged key: ${object.key}`);
  return listed;
}

/** A chain of objects of `per` records each from offset 0, all in `partition=3`. */
function chainOf(count: number, per = 2, size = 100, at = 0): StagedObject[] {
  return Array.from({ length: count }, (_, i) =>
    staged({ afterOffset: i * per - 1, offsets: Array.from({ length: per }, (_, j) => i * per + j) }, size, at),
  );
}

describe('chainFrom: the staged chain from the cursor to the committed offset', () => {
  it('follows after-offset links from the cursor, stops at the committed offset, skips other generations and garbage', () => {
    const chain = chainOf(5); // 0-1, 2-3, 4-5, 6-7, 8-9
    const other = staged({ generation: 1, afterOffset: 3, offsets: [4, 5] });
    const { chain: found, forks } = chainFrom([...chain].reverse().concat(other), { generation: 0, offset: 3 }, 7);
    expect(forks).toEqual([]);
    expect(found.map((o) => o.descriptor.firstOffset)).toEqual([4, 6]); // 8-9 is past the committed offset
  });

  it('follows links across gaps in offsets (an object continues from the last offset of the one before, not from +1)', () => {
    const a = staged({ afterOffset: -1, offsets: [0, 1] });
    const b = staged({ afterOffset: 1, offsets: [5, 9] });
    expect(chainFrom([b, a], { generation: 0, offset: -1 }, 9).chain).toEqual([a, b]);
  });

  it('reports two objects continuing from one offset as a fork', () => {
    const a = staged({ afterOffset: -1, offsets: [0, 1] });
    const b = staged({ afterOffset: -1, offsets: [0, 1, 2], path: 'elsewhere' });
    expect(chainFrom([a, b], { generation: 0, offset: -1 }, 5).forks).toHaveLength(2);
  });

  it('garbage: objects the cursor passed, and every object of older generations', () => {
    const [a, b, c] = chainOf(3);
    const old = staged({ generation: 0, afterOffset: 9, offsets: [10] });
    const current = staged({ generation: 1, afterOffset: 1, offsets: [2, 3] });
    const garbage = garbageOf([a!, b!, c!, old, current], { generation: 1, offset: 1 });
    expect(garbage).toEqual([a, b, c, old]);
    expect(garbageOf([a!, b!, c!], { generation: 0, offset: 3 })).toEqual([a, b]);
    // A stale handler re-created the deleted key 2 with a longer range: it starts below the cursor, off the chain.
    const recreated = staged({ afterOffset: 1, offsets: [2, 3, 4, 5, 6] });
    expect(garbageOf([recreated, c!], { generation: 0, offset: 3 })).toEqual([recreated]);
  });
});

describe('planRun: a contiguous run in one directory, up to the target, or due', () => {
  const settings = { targetBytes: 350, maxDelayMs: 1000 };

  it('full: stops before the object that would pass the target', () => {
    const plan = planRun(chainOf(5), settings, 0);
    expect(isRun(plan) && plan.reason).toBe(RunReason.full);
    expect((plan as PlannedRun).objects).toHaveLength(3);
    expect((plan as PlannedRun).bytes).toBe(300);
  });

  it('full: a single object larger than the target is a run by itself', () => {
    const plan = planRun(chainOf(2, 2, 1000), settings, 0) as PlannedRun;
    expect(plan.reason).toBe(RunReason.full);
    expect(plan.objects).toHaveLength(1);
  });

  it('closed: a run never spans two directories, even when small', () => {
    const a = staged({ afterOffset: -1, offsets: [0, 1], path: 'hour=01' });
    const b = staged({ afterOffset: 1, offsets: [2, 3], path: 'hour=01' });
    const c = staged({ afterOffset: 3, offsets: [4], path: 'hour=02' });
    const plan = planRun([a, b, c], settings, 0) as PlannedRun;
    expect(plan.reason).toBe(RunReason.closed);
    expect(plan.objects).toEqual([a, b]);
  });

  it('closed: nor two formats (a compression change between two objects)', () => {
    const a = staged({ afterOffset: -1, offsets: [0], compression: 'gzip' });
    const b = staged({ afterOffset: 0, offsets: [1], compression: 'zstd' });
    expect(planRun([a, b], settings, 0)).toMatchObject({ reason: RunReason.closed, objects: [a] });
  });

  it('waits while the run can still grow and its oldest object is younger than the delay, then is due', () => {
    const chain = [staged({ afterOffset: -1, offsets: [0] }, 100, 500), staged({ afterOffset: 0, offsets: [1] }, 100, 200)];
    expect(planRun(chain, settings, 1199)).toEqual({ objects: 2, bytes: 200, dueAt: 1200 });
    expect(planRun(chain, settings, 1200)).toMatchObject({ reason: RunReason.due, bytes: 200 });
  });

  it('superseded: the rest of a replayed generation goes at once, it will never grow', () => {
    expect(planRun(chainOf(1), settings, 0, true)).toMatchObject({ reason: RunReason.superseded });
  });

  it('nothing staged: nothing to plan', () => {
    expect(planRun([], settings, 0)).toBeUndefined();
  });
});

describe('merging by concatenation', () => {
  it.each<TestCompression>(['gzip', 'zstd', 'none'])(
    '%s: the staged bodies end to end read back as every record once, in order',
    async (compression) => {
      const bucket = new MemoryBucket(() => 0);
      const ranges = [
        { afterOffset: -1, offsets: [0, 1, 2] },
        { afterOffset: 2, offsets: [3] },
        { afterOffset: 3, offsets: [7, 8] },
      ];
      const objects = ranges.map((range) => {
        const object = stagedObjectFor(STAGING, { ...base, ...range, compression });
        bucket.putIfAbsent(object.key, object);
        return stagedObjectOf(STAGING, { ...object, size: object.body.byteLength, stagedAt: 0 })!;
      });
      const run: PlannedRun = { objects, bytes: objects.reduce((s, o) => s + o.size, 0), reason: RunReason.full };
      checkRun(run, { generation: 0, offset: -1 });
      const body = await collect(concatenate(memoryStagingStore(bucket, STAGING), run));
      expect(body.byteLength).toBe(run.bytes); // no recompression: the sum of the parts
      expect(offsetsIn(body, compression)).toEqual([0, 1, 2, 3, 7, 8]);
    },
  );

  it('names the compacted object as the handler names its first staged object, under the sink prefix', () => {
    const run: PlannedRun = { objects: chainOf(3), bytes: 300, reason: RunReason.full };
    expect(compactedKey('topics/', run)).toBe('topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz');
    const later = chainOf(3).map((o) => ({ ...o, descriptor: { ...o.descriptor, generation: 2 } }));
    expect(compactedKey('topics/', { ...run, objects: later.slice(1) })).toBe(
      'topics/orders/partition=3/orders+3+00000000000000000002+g2.jsonl.gz',
    );
  });

  it('metadata: continues from the cursor, spans the run, sums the records, widens the timestamps', () => {
    const run: PlannedRun = { objects: chainOf(3).slice(1), bytes: 200, reason: RunReason.full };
    expect(compactedMetadata(run)).toEqual({
      topic: 'orders',
      partition: '3',
      generation: '0',
      'after-offset': '1',
      'first-offset': '2',
      'last-offset': '5',
      'record-count': '4',
      'min-timestamp': String(1_700_000_000_002),
      'max-timestamp': String(1_700_000_000_005),
      format: 'jsonl',
      'format-version': '1',
    });
  });

  it('refuses a run that does not continue from the cursor, and a format concatenation cannot merge', () => {
    const run: PlannedRun = { objects: chainOf(3).slice(1), bytes: 200, reason: RunReason.full };
    expect(() => checkRun(run, { generation: 0, offset: -1 })).toThrow(
      /orders-3: .*orders\+3\+00000000000000000002.* does not continue from offset -1 of generation 0/,
    );
    const parquet = run.objects.map((o) => ({ ...o, descriptor: { ...o.descriptor, format: 'parquet' } }));
    expect(() => checkRun({ ...run, objects: parquet }, { generation: 0, offset: 1 })).toThrow(StagedChainError);
    expect(() => checkRun({ ...run, objects: parquet }, { generation: 0, offset: 1 })).toThrow(/format "parquet", which cannot be merged/);
  });

  it('streams: a staged object is opened only once the writer has taken the bytes before it', async () => {
    const bucket = new MemoryBucket(() => 0);
    const objects = [0, 1, 2].map((i) => {
      const object = stagedObjectFor(STAGING, { ...base, afterOffset: i - 1, offsets: [i] });
      bucket.putIfAbsent(object.key, object);
      return stagedObjectOf(STAGING, { ...object, size: object.body.byteLength, stagedAt: 0 })!;
    });
    const store = memoryStagingStore(bucket, STAGING);
    const opened: string[] = [];
    const counting = {
      ...store,
      open: (key: string) => {
        opened.push(key);
        return store.open(key);
      },
    };
    const run: PlannedRun = { objects, bytes: objects.reduce((sum, o) => sum + o.size, 0), reason: RunReason.due };
    const seen: number[] = [];
    for await (const _chunk of concatenate(counting, run)) seen.push(opened.length);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('fails the write when a staged object holds other bytes than listed', async () => {
    const bucket = new MemoryBucket(() => 0);
    const object = stagedObjectFor(STAGING, { ...base, afterOffset: -1, offsets: [0] });
    bucket.putIfAbsent(object.key, object);
    const listed = stagedObjectOf(STAGING, { ...object, size: object.body.byteLength + 1, stagedAt: 0 })!;
    const run: PlannedRun = { objects: [listed], bytes: listed.size, reason: RunReason.due };
    await expect(collect(concatenate(memoryStagingStore(bucket, STAGING), run))).rejects.toThrow(/changed after it was listed/);
  });

  it('reads a staged listing: keys outside the staging prefix or not named by the sink are not staged objects', () => {
    const object = stagedObjectFor(STAGING, { ...base, afterOffset: -1, offsets: [0], path: 'year=2026/month=12' });
    const listed = stagedObjectOf(STAGING, { ...object, size: 10, stagedAt: 5 });
    expect(listed).toMatchObject({ path: 'year=2026/month=12', extension: '.jsonl.gz', stagedAt: 5, size: 10 });
    expect(stagedObjectOf('other/', { ...object, size: 10, stagedAt: 5 })).toBeUndefined();
    expect(stagedObjectOf(STAGING, { ...object, key: 'staging/orders/partition=3/notes.txt', size: 1, stagedAt: 0 })).toBeUndefined();
  });
});

describe('progress and settings', () => {
  it('a superseded generation stays current up to where the next one starts; no cursor starts at the oldest generation', () => {
    const progress = progressOf({
      generation: 2,
      committedOffset: 40,
      cursor: undefined,
      resets: [
        { fromGeneration: 0, fromOffset: 30, toGeneration: 1, toOffset: 19 }, // replay back from 30 to 20
        { fromGeneration: 1, fromOffset: 25, toGeneration: 2, toOffset: 35 }, // skip forward past 26-35
      ],
    });
    expect(progress.initialCursor).toEqual({ generation: 0, offset: -1 });
    expect(progress.superseded).toEqual([
      { generation: 0, end: 30, currentUpTo: 19, next: { generation: 1, offset: 19 } },
      { generation: 1, end: 25, currentUpTo: 25, next: { generation: 2, offset: 35 } },
    ]);
  });

  it('settings: defaults 128 MiB and 15 minutes; every wrong property named', () => {
    const prefixes = { stagingPrefix: 'staging/', sinkPrefix: 'topics/' };
    expect(compactionSettingsFrom({}, prefixes)).toEqual({
      ...prefixes,
      targetBytes: DEFAULT_TARGET_BYTES,
      maxDelayMs: DEFAULT_MAX_DELAY_MS,
    });
    expect(DEFAULT_TARGET_BYTES).toBe(134_217_728);
    expect(DEFAULT_MAX_DELAY_MS).toBe(900_000);
    expect(compactionSettingsFrom({ 'compaction.target.bytes': '1048576', 'compaction.max.delay.ms': '0' }, prefixes)).toMatchObject({
      targetBytes: 1_048_576,
      maxDelayMs: 0,
    });
    const wrong = () => compactionSettingsFrom({ 'compaction.target.bytes': '128MB', 'compaction.max.delay.ms': '-1' }, prefixes);
    expect(wrong).toThrow(CompactionSettingsError);
    expect(wrong).toThrow(/compaction\.target\.bytes: .*"128MB".*compaction\.max\.delay\.ms: .*"-1"/);
    expect(() => compactionSettingsFrom({}, { stagingPrefix: 'topics/staging/', sinkPrefix: 'topics/' })).toThrow(/overlap/);
  });
});
