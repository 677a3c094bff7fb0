/**
 * The compactor's steps one by one, over the in-memory ports: a run written and the cursor moved
 * and the staged objects deleted; waiting; uncommitted objects left alone; one object per
 * directory; adoption on 412 and refusal of an object that is not a run of the chain; a lost cursor
 * race; a gap; garbage; a replay (new generation).
 */
import { describe, expect, it } from 'vitest';
import { CorruptObjectError, ObjectExistsError } from '../../lib/core/errors.ts';
import { compactPartition } from '../../lib/compaction/compactor.ts';
import { CursorConflictError, StagedChainError } from '../../lib/compaction/errors.ts';
import { collect, memoryCompaction } from '../../lib/compaction/in-memory.ts';
import { compactedKey, compactedMetadata, concatenate } from '../../lib/compaction/merge.ts';
import { chainFrom, type PlannedRun, RunReason } from '../../lib/compaction/plan.ts';
import type { CompactionPorts } from '../../lib/compaction/ports.ts';
import { offsetsIn, stage } from '../../lib/compaction/testing.ts';

const STAGING = 'staging/';
const SINK = 'topics/';
const T = 'orders';
const P = 3;

function world(targetBytes = 1 << 20) {
  let now = 0;
  const clock = { now: () => now };
  const { bucket, ledger, ports } = memoryCompaction(clock, STAGING);
  const settings = { stagingPrefix: STAGING, sinkPrefix: SINK, targetBytes, maxDelayMs: 1000 };
  return {
    bucket,
    ledger,
    ports,
    settings,
    advanceClock: (ms: number) => {
      now += ms;
    },
    /** What the handler does: stage the next object from the committed offset, and (unless told not to) commit it. */
    deliver(offsets: number[], options: { path?: string; commit?: boolean } = {}): string {
      const entry = ledger.ensure(T, P);
      const key = stage(bucket, STAGING, {
        topic: T,
        partition: P,
        generation: entry.generation,
        afterOffset: entry.committedOffset,
        offsets,
        ...(options.path === undefined ? {} : { path: options.path }),
      });
      if (options.commit !== false) entry.committedOffset = offsets.at(-1)!;
      return key;
    },
    compact: (maxRuns?: number) => compactPartition(T, P, settings, ports, maxRuns === undefined ? {} : { maxRuns }),
    sinkKeys: () => bucket.keys(SINK),
    stagedKeys: () => bucket.keys(STAGING),
    sinkOffsets: () => bucket.keys(SINK).flatMap((key) => offsetsIn(bucket.objects.get(key)!.body, 'gzip')),
    cursor: () => ledger.entry(T, P)?.cursor,
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('compactPartition: one run', () => {
  it('merges the committed chain into one object named by its first offset, moves the cursor, deletes the staged objects', async () => {
    const w = world();
    for (let i = 0; i < 4; i++) w.deliver(range(i * 3, i * 3 + 2));
    w.advanceClock(1000);
    const report = await w.compact();
    const key = 'topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz';
    expect(report).toMatchObject({ written: [key], adopted: [], deleted: 4, cursor: { generation: 0, offset: 11 } });
    expect(w.cursor()).toEqual({ generation: 0, offset: 11 });
    expect(w.ledger.entry(T, P)!.cursorAudit?.lastObjectKey).toBe(key);
    expect(w.stagedKeys()).toEqual([]);
    expect(w.sinkOffsets()).toEqual(range(0, 11));
    expect(w.bucket.objects.get(key)!.metadata).toMatchObject({
      'after-offset': '-1',
      'first-offset': '0',
      'last-offset': '11',
      'record-count': '12',
    });
  });

  it('waits while the run is below the target and younger than the delay; compacts full runs at once', async () => {
    const w = world();
    w.deliver(range(0, 2));
    w.advanceClock(999);
    const waiting = await w.compact();
    expect(waiting.waiting).toMatchObject({ objects: 1, dueAt: 1000 });
    expect(w.sinkKeys()).toEqual([]);
    expect(w.cursor()).toBeUndefined();

    const size = w.bucket.objects.get(w.stagedKeys()[0]!)!.body.byteLength;
    const full = world(2 * size + 1); // two objects per run
    for (let i = 0; i < 5; i++) full.deliver(range(i * 3, i * 3 + 2));
    const report = await full.compact();
    expect(report.written).toHaveLength(2); // 0-5 and 6-11 are full; 12-14 waits
    expect(report.waiting).toMatchObject({ objects: 1 });
    expect(full.cursor()).toEqual({ generation: 0, offset: 11 });
    expect(full.sinkOffsets()).toEqual(range(0, 11));
    expect(full.stagedKeys()).toEqual(['staging/orders/partition=3/orders+3+00000000000000000012.jsonl.gz']);
  });

  it('stops after maxRuns runs, the rest left for the next call', async () => {
    const w = world(1); // every staged object is a full run by itself
    for (let i = 0; i < 3; i++) w.deliver(range(i * 3, i * 3 + 2));
    expect((await w.compact(2)).written).toHaveLength(2);
    expect(w.cursor()).toEqual({ generation: 0, offset: 5 });
    expect((await w.compact()).written).toEqual(['topics/orders/partition=3/orders+3+00000000000000000006.jsonl.gz']);
  });

  it('leaves staged objects past the committed offset alone: the handler may still adopt them', async () => {
    const w = world();
    w.deliver(range(0, 2));
    const uncommitted = w.deliver(range(3, 5), { commit: false });
    w.advanceClock(1000);
    await w.compact();
    expect(w.sinkOffsets()).toEqual(range(0, 2));
    expect(w.stagedKeys()).toEqual([uncommitted]);
  });

  it('writes one object per directory run, never across two (a time layout going back to an earlier hour)', async () => {
    const w = world();
    w.deliver(range(0, 1), { path: 'hour=01' });
    w.deliver(range(2, 3), { path: 'hour=01' });
    w.deliver(range(4, 5), { path: 'hour=02' });
    w.deliver(range(6, 7), { path: 'hour=01' });
    w.advanceClock(1000);
    const report = await w.compact();
    expect(report.written).toEqual([
      'topics/orders/hour=01/orders+3+00000000000000000000.jsonl.gz',
      'topics/orders/hour=02/orders+3+00000000000000000004.jsonl.gz',
      'topics/orders/hour=01/orders+3+00000000000000000006.jsonl.gz',
    ]);
    expect(w.sinkOffsets().sort((a, b) => a - b)).toEqual(range(0, 7));
  });
});

/** Creates, as a compactor that died after its write would have left it, the object of the chain's first `count` objects. */
async function leaveCompacted(w: ReturnType<typeof world>, count: number, tamper: (m: Record<string, string>) => void = () => {}) {
  const staged = await w.ports.staging.list(T, P);
  const { chain } = chainFrom(staged, { generation: 0, offset: -1 }, Number.MAX_SAFE_INTEGER);
  const run: PlannedRun = { objects: chain.slice(0, count), bytes: 0, reason: RunReason.due };
  const metadata = compactedMetadata(run);
  tamper(metadata);
  await w.ports.sink.create({
    key: compactedKey(SINK, run),
    contentType: 'application/gzip',
    metadata,
    body: concatenate(w.ports.staging, run),
  });
}

describe('compactPartition: 412 and races', () => {
  it('adopts a dead compactor object of a shorter run at its key, then compacts the rest after it', async () => {
    const w = world();
    for (let i = 0; i < 4; i++) w.deliver(range(i * 3, i * 3 + 2));
    await leaveCompacted(w, 2); // 0-5, the cursor not moved
    w.advanceClock(1000);
    const report = await w.compact();
    expect(report.adopted).toEqual(['topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz']);
    expect(report.written).toEqual(['topics/orders/partition=3/orders+3+00000000000000000006.jsonl.gz']);
    expect(w.cursor()).toEqual({ generation: 0, offset: 11 });
    expect(w.sinkOffsets()).toEqual(range(0, 11));
    expect(w.stagedKeys()).toEqual([]);
  });

  it('refuses an object at the run key that is not a run of the chain; the cursor and staging stay', async () => {
    const w = world();
    for (let i = 0; i < 3; i++) w.deliver(range(i * 3, i * 3 + 2));
    await leaveCompacted(w, 2, (m) => {
      m['record-count'] = '5';
    });
    w.advanceClock(1000);
    const failure = w.compact();
    await expect(failure).rejects.toThrow(CorruptObjectError);
    await expect(w.compact()).rejects.toThrow(/it holds 5 records in \d+ bytes, the staged objects up to its end 6 in \d+/);
    expect(w.cursor()).toBeUndefined();
    expect(w.stagedKeys()).toHaveLength(3);
  });

  it('a cursor move lost to another compactor that finished the same run: reads again, deletes, goes on', async () => {
    const w = world();
    for (let i = 0; i < 2; i++) w.deliver(range(i * 3, i * 3 + 2));
    w.advanceClock(1000);
    const store = w.ports.cursor;
    let raced = false;
    const ports: CompactionPorts = {
      ...w.ports,
      cursor: {
        read: (topic, partition) => store.read(topic, partition),
        async advance(topic, partition, expected, next) {
          if (!raced) {
            raced = true;
            await store.advance(topic, partition, expected, next); // the other compactor got there first
            throw new CursorConflictError('lost');
          }
          return store.advance(topic, partition, expected, next);
        },
      },
    };
    const report = await compactPartition(T, P, w.settings, ports);
    expect(raced).toBe(true);
    expect(report.cursor).toEqual({ generation: 0, offset: 5 });
    expect(w.stagedKeys()).toEqual([]);
    expect(w.sinkOffsets()).toEqual(range(0, 5));
  });

  it('a write that lost to a concurrent compactor which also moved the cursor: nothing adopted, starts from the new cursor', async () => {
    const w = world();
    for (let i = 0; i < 2; i++) w.deliver(range(i * 3, i * 3 + 2));
    w.advanceClock(1000);
    const sink = w.ports.sink;
    let raced = false;
    const ports: CompactionPorts = {
      ...w.ports,
      sink: {
        head: (key) => sink.head(key),
        async create(object) {
          if (raced) return sink.create(object);
          raced = true;
          await compactPartition(T, P, w.settings, w.ports); // the other one, whole
          await collect(object.body).catch(() => undefined);
          throw new ObjectExistsError(object.key);
        },
      },
    };
    const report = await compactPartition(T, P, w.settings, ports);
    expect(report).toMatchObject({ written: [], adopted: [], cursor: { generation: 0, offset: 5 } });
    expect(w.sinkOffsets()).toEqual(range(0, 5));
  });

  it('stops at a gap: no staged object continues from the cursor though the ledger committed past it', async () => {
    const w = world();
    w.deliver(range(0, 2));
    const lost = w.deliver(range(3, 5));
    w.deliver(range(6, 8));
    w.bucket.objects.delete(lost);
    w.advanceClock(1000);
    const failure = w.compact();
    await expect(failure).rejects.toThrow(StagedChainError);
    await expect(w.compact()).rejects.toThrow(
      'Staged chain of orders-3: no staged object continues from offset 2 of generation 0, but the ledger committed up to 8',
    );
    expect(w.cursor()).toBeUndefined();
  });

  it('deletes garbage: a dead handler late write that re-created a staged object the cursor had passed', async () => {
    const w = world();
    w.deliver(range(0, 2));
    w.advanceClock(1000);
    await w.compact();
    stage(w.bucket, STAGING, { topic: T, partition: P, generation: 0, afterOffset: -1, offsets: range(0, 2) });
    const report = await w.compact();
    expect(report.deleted).toBe(1);
    expect(w.stagedKeys()).toEqual([]);
    expect(w.sinkOffsets()).toEqual(range(0, 2));
  });
});

describe('compactPartition: generations', () => {
  /** Generation 0 staged 0-11 in four objects; a reset then replays from `toOffset + 1` in generation 1. */
  function replayed(toOffset: number) {
    const w = world();
    for (let i = 0; i < 4; i++) w.deliver(range(i * 3, i * 3 + 2));
    const entry = w.ledger.entry(T, P)!;
    entry.resets.push({ fromGeneration: 0, fromOffset: entry.committedOffset, toGeneration: 1, toOffset });
    entry.generation = 1;
    entry.committedOffset = toOffset;
    return w;
  }

  it('compacts the old generation as far as it is current, moves the cursor to the new one, then compacts that', async () => {
    const w = replayed(5); // offsets 6-11 delivered again in generation 1
    w.deliver(range(6, 9));
    w.deliver(range(10, 14));
    w.advanceClock(1000);
    const report = await w.compact();
    expect(report.written).toEqual([
      'topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz',
      'topics/orders/partition=3/orders+3+00000000000000000006+g1.jsonl.gz',
    ]);
    expect(w.cursor()).toEqual({ generation: 1, offset: 14 });
    expect(w.sinkOffsets()).toEqual(range(0, 14)); // 6-11 of generation 0 were superseded: never compacted
    expect(w.stagedKeys()).toEqual([]); // and deleted as garbage
  });

  it('a staged object that straddles the reset point is compacted whole, as it stood in the sink prefix before compaction', async () => {
    const w = replayed(7); // offsets 8-11 again; the object 6-8 holds one superseded record
    w.deliver(range(8, 11));
    w.advanceClock(1000);
    await w.compact();
    expect(w.sinkOffsets()).toEqual([...range(0, 8), ...range(8, 11)]);
    // The compacted generation-0 object ends at 8: readers apply the generation windows, as verify does today.
    expect(w.bucket.objects.get('topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz')!.metadata['last-offset']).toBe('8');
  });
});
