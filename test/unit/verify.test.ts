import { describe, expect, it } from 'vitest';
import type { CatalogedObject } from '../../lib/manifest/catalog.ts';
import type { AuditedLedgerEntry, LedgerReset } from '../../lib/ledger/admin.ts';
import { reconcile } from '../../lib/ops/verify.ts';
import { objectKey } from '../../lib/layout/naming.ts';
import type { SkippedRange } from '../../lib/core/ports.ts';

/**
 * verify's reconciliation (`reconcile`) on hand-made catalogs: what it must see and how it must
 * say it. The same checks against the emulators are in test/integration/ops-verify-replay.test.ts.
 */
const topic = 'orders';

/** A cataloged object of partition 0 holding offsets first..last; dense unless `records` says otherwise. */
function object(
  generation: number,
  afterOffset: number,
  firstOffset: number,
  lastOffset: number,
  options: { readonly records?: number; readonly path?: string } = {},
): CatalogedObject {
  const key = objectKey({ prefix: 'topics/', topic, partition: 0, generation, firstOffset, extension: '.jsonl', path: options.path });
  return {
    key,
    size: 100,
    topic,
    partition: 0,
    generation,
    firstOffset,
    descriptor: {
      topic,
      partition: 0,
      generation,
      afterOffset,
      firstOffset,
      lastOffset,
      recordCount: options.records ?? lastOffset - firstOffset + 1,
      minTimestamp: undefined,
      maxTimestamp: undefined,
      format: 'jsonl',
      formatVersion: '1',
    },
    problem: undefined,
  };
}

/** Objects of one generation in runs of ten offsets, chained, covering (after, last]. */
function run(generation: number, after: number, last: number): CatalogedObject[] {
  const objects: CatalogedObject[] = [];
  for (let first = after + 1; first <= last; first += 10) objects.push(object(generation, first - 1, first, Math.min(first + 9, last)));
  return objects;
}

function entry(fields: {
  readonly generation?: number;
  readonly committedOffset: number;
  readonly resets?: readonly LedgerReset[];
  readonly skippedRanges?: readonly SkippedRange[];
}): AuditedLedgerEntry {
  return {
    topic,
    partition: 0,
    generation: fields.generation ?? 0,
    committedOffset: fields.committedOffset,
    lastObjectKey: null,
    lastRecordCount: 0,
    updatedAt: '2026-12-01T00:00:00.000Z',
    resets: fields.resets ?? [],
    ...(fields.skippedRanges ? { skippedRanges: fields.skippedRanges } : {}),
  };
}

const replay = (fromOffset: number, toOffset: number): LedgerReset => ({
  id: 'r1',
  at: '2026-12-01T00:00:00.000Z',
  by: 'alice',
  reason: 'backfill',
  fromGeneration: 0,
  fromOffset,
  toGeneration: 1,
  toOffset,
});

describe('reconcile: stretches that are current nowhere', () => {
  it('is an error when a replay generation starts later than its reset point while older objects hold those records', () => {
    // Generation 0 delivered 0-59; a replay reset to offset 25 (committed 24), but the new
    // generation's first object starts at 40: 25-39 are in generation 0's objects only, which
    // are not current there any more.
    const objects = [...run(0, -1, 59), object(1, 24, 40, 49), object(1, 49, 50, 59)];
    const report = reconcile({ entries: [entry({ generation: 1, committedOffset: 59, resets: [replay(59, 24)] })], objects });
    const found = report.findings.filter((f) => f.kind === 'not-current');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'error', generation: 1 });
    expect(found[0]!.message).toContain('offsets 25-39');
    expect(found[0]!.keys).toEqual(expect.arrayContaining([objects[2]!.key, objects[3]!.key]));
    expect(report.errors).toBeGreaterThan(0);
  });

  it('is no error when the later start is a gap no older object proves (compaction, transaction markers)', () => {
    // Generation 0's objects end at 24 and start again at 40: nothing proves records in 25-39.
    const objects = [...run(0, -1, 24), object(0, 24, 40, 49), object(1, 24, 40, 49)];
    const report = reconcile({ entries: [entry({ generation: 1, committedOffset: 49, resets: [replay(49, 24)] })], objects });
    expect(report.findings.filter((f) => f.kind === 'not-current')).toEqual([]);
    expect(report.errors).toBe(0);
  });
});

describe('reconcile: ranges the source skipped', () => {
  it('reports each recorded skipped range as such, and no gap in S3', () => {
    const skipped: SkippedRange = { kind: 'gap', generation: 0, fromOffset: 20, toOffset: 29, detectedAt: '2026-12-01T01:00:00.000Z' };
    const objects = [object(0, -1, 0, 19), object(0, 19, 30, 39)];
    const report = reconcile({ entries: [entry({ committedOffset: 39, skippedRanges: [skipped] })], objects });
    const found = report.findings.filter((f) => f.kind === 'skipped');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'warning', generation: 0 });
    expect(found[0]!.message).toContain('offsets 20-29 (10)');
    expect(report.findings.filter((f) => f.kind === 'gap')).toEqual([]);
    expect(report.errors).toBe(0);
  });
});

describe('reconcile: the chain walk', () => {
  it('after a missing object, reports one gap with its range and does not call later objects orphans beyond the committed offset', () => {
    const objects = run(0, -1, 49).filter((o) => o.firstOffset !== 10);
    const report = reconcile({ entries: [entry({ committedOffset: 49 })], objects });
    expect(report.findings.map((f) => f.kind)).toEqual(['gap']);
    expect(report.findings[0]!.message).toContain('offsets 10-19');
    expect(report.findings.some((f) => /beyond the committed offset/.test(f.message))).toBe(false);
    // The objects past the gap are still on the chain and counted.
    expect(report.partitions[0]).toMatchObject({ objects: 4, records: 40 });
  });

  it('where two objects continue from one offset, follows the one that reaches the committed offset', () => {
    // Two objects both continue after 9 (one under another path): the short one leads nowhere.
    const short = object(0, 9, 10, 14, { path: 'elsewhere' });
    const objects = [object(0, -1, 0, 9), short, object(0, 9, 10, 19), object(0, 19, 20, 29)];
    const report = reconcile({ entries: [entry({ committedOffset: 29 })], objects });
    expect(report.findings.filter((f) => f.kind === 'gap')).toEqual([]);
    const overlaps = report.findings.filter((f) => f.kind === 'overlap');
    expect(overlaps.length).toBeGreaterThan(0);
    expect(overlaps.every((f) => f.keys!.includes(short.key))).toBe(true);
    expect(report.partitions[0]).toMatchObject({ objects: 3, records: 30 });
  });

  it("counts every current object after a replay, not only the newest generation's", () => {
    // Generation 0: 0-59 in six objects; the replay from 25 makes 0-24 (three objects, the third
    // in part) current in generation 0 and 25-59 in generation 1 (four objects).
    const objects = [...run(0, -1, 59), ...run(1, 24, 59)];
    const report = reconcile({ entries: [entry({ generation: 1, committedOffset: 59, resets: [replay(59, 24)] })], objects });
    expect(report.errors).toBe(0);
    expect(report.partitions[0]).toMatchObject({ generation: 1, objects: 7, records: 60 });
  });
});

describe('reconcile: an object it cannot read', () => {
  it('is an error, and the gap it leaves says so rather than claim the records are lost', () => {
    const objects = run(0, -1, 29).map((o) =>
      o.firstOffset === 10 ? { ...o, descriptor: undefined, problem: 'its metadata cannot be read: HEAD answered HTTP 503' } : o,
    );
    const report = reconcile({ entries: [entry({ committedOffset: 29 })], objects });
    expect(report.findings.map((f) => f.kind)).toEqual(['unreadable', 'gap']);
    expect(report.findings[1]!.message).toContain('offsets 10-19');
    expect(report.findings[1]!.message).toContain('an object there cannot be read');
    expect(report.findings[1]!.message).not.toContain('records lost');
    expect(report.findings[1]!.keys).toEqual([objects[1]!.key]);
  });
});
