import { type CatalogedObject, generationWindows } from '../manifest/catalog.ts';
import { skippedCount } from '../core/ports.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import { recreatedTopicId } from '../ledger/topic-id.ts';
import { topicRecreatedMessage } from './topic-ids.ts';

/** How bad a finding is: an error breaks exactly-once; a warning is expected debris or a note. */
export const Severity = { error: 'error', warning: 'warning' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/** What `verify` can find. */
export const FindingKind = {
  /** The ledger says records are delivered that no object holds: loss. */
  gap: 'gap',
  /** Two objects of one generation hold the same offset: duplicates. */
  overlap: 'overlap',
  /** An object beyond the committed offset, left by an invocation that died before its commit. */
  orphan: 'orphan',
  /** An object whose metadata or content cannot be read or contradicts itself. */
  unreadable: 'unreadable',
  /** Objects for a partition the ledger has never committed. */
  noLedger: 'no-ledger',
  /** Records parked in the dead-letter prefix. */
  deadLetters: 'dead-letters',
  /** Objects of an earlier generation wholly replaced by a later one (prunable). */
  superseded: 'superseded',
  /**
   * Offsets a generation's chain passes over while objects of an older generation hold records
   * there: those records are current nowhere (lost to readers).
   */
  notCurrent: 'not-current',
  /** Offsets the source skipped, as the delivery path recorded them on the ledger item. */
  skipped: 'skipped',
  /**
   * The entry's topic was deleted and created again: the cluster's topic has another id than the
   * ledger's, so the new topic's records are not delivered (see topic-ids.ts).
   */
  topicRecreated: 'topic-recreated',
} as const;
export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

export interface Finding {
  readonly severity: Severity;
  readonly kind: FindingKind;
  readonly topic: string;
  readonly partition: number;
  readonly generation?: number;
  readonly keys?: readonly string[];
  readonly message: string;
}

/** One partition's reconciliation. */
export interface PartitionSummary {
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
  readonly committedOffset: number;
  /** Objects holding current records, in every generation, and the current records they hold. */
  readonly objects: number;
  readonly records: number;
  /**
   * False when an object only partly current has gaps in its range: `records` then counts one
   * record for it (a lower bound), since only reading it would tell.
   */
  readonly recordsExact: boolean;
  readonly deadLetters: number;
  /** Offsets the source skipped, as recorded on the ledger item. */
  readonly skippedOffsets: number;
}

export interface VerifyReport {
  readonly partitions: readonly PartitionSummary[];
  readonly findings: readonly Finding[];
  /** Objects no generation counts as current, wholly: safe to delete. */
  readonly prunable: readonly string[];
  readonly errors: number;
  readonly warnings: number;
}

/**
 * Reconciles the objects in S3 with the ledger, partition by partition and generation by
 * generation. Each object's metadata names the committed offset it continues from
 * (`after-offset`), so the objects of a generation form a chain from the generation's start to
 * its committed offset; a missing link is a gap (the walk resumes where the chain does), a second
 * object on one link an overlap.
 *
 * What is prunable is decided apart from the walk: an object of a superseded generation is
 * prunable only when it lies wholly outside its generation's window as the ledger's history
 * defines it (`generationWindows`), so a missing or unreadable object can never make a current one
 * look superseded.
 */
export function reconcile(input: {
  readonly entries: readonly AuditedLedgerEntry[];
  readonly objects: readonly CatalogedObject[];
  /** Dead letters per `topic/partition`. */
  readonly deadLetters?: ReadonlyMap<string, number>;
  /** The cluster's current topic ids (`clusterTopicIds`), when the cluster was given. */
  readonly clusterTopicIds?: ReadonlyMap<string, string>;
}): VerifyReport {
  const findings: Finding[] = [];
  const prunable: string[] = [];
  const partitions: PartitionSummary[] = [];
  const byPartition = new Map<string, CatalogedObject[]>();
  for (const object of input.objects) {
    const id = `${object.topic}/${object.partition}`;
    byPartition.set(id, [...(byPartition.get(id) ?? []), object]);
  }
  const entries = new Map(input.entries.map((entry) => [`${entry.topic}/${entry.partition}`, entry]));
  const ids = new Set([...byPartition.keys(), ...entries.keys(), ...(input.deadLetters?.keys() ?? [])]);

  for (const id of [...ids].sort()) {
    const objects = byPartition.get(id) ?? [];
    const entry = entries.get(id);
    const [topic, partitionText] = [id.slice(0, id.lastIndexOf('/')), id.slice(id.lastIndexOf('/') + 1)];
    const partition = Number(partitionText);
    const at = { topic, partition };
    const deadLetters = input.deadLetters?.get(id) ?? 0;
    if (deadLetters > 0) {
      findings.push({ severity: 'warning', kind: 'dead-letters', ...at, message: `${deadLetters} record(s) in the dead-letter prefix` });
    }
    for (const object of objects.filter((o) => o.descriptor === undefined)) {
      findings.push({
        severity: 'error',
        kind: 'unreadable',
        ...at,
        generation: object.generation,
        keys: [object.key],
        message: object.problem ?? 'unreadable',
      });
    }
    if (!entry) {
      if (objects.length > 0) {
        findings.push({
          severity: 'warning',
          kind: 'no-ledger',
          ...at,
          keys: objects.map((o) => o.key),
          message: `${objects.length} object(s) but no ledger entry (left by invocations that never committed, or the ledger was deleted)`,
        });
      }
      continue;
    }
    const recreated = recreatedTopicId(entry, input.clusterTopicIds);
    if (recreated !== undefined) {
      findings.push({
        severity: 'error',
        kind: 'topic-recreated',
        ...at,
        generation: entry.generation,
        message: topicRecreatedMessage(entry, recreated),
      });
    }
    for (const range of entry.skippedRanges ?? []) {
      findings.push({
        severity: 'warning',
        kind: 'skipped',
        ...at,
        generation: range.generation,
        message:
          `offsets ${range.fromOffset}-${range.toOffset} (${skippedCount(range)}) never reached the sink: the source skipped them ` +
          (range.kind === 'start'
            ? "(the partition's first batch did not start at offset 0: the mapping's starting position, or retention)"
            : '(a batch started above the committed offset + 1: a batch the mapping discarded after its retries or maximum age, retention, or transaction markers)') +
          `, seen ${range.detectedAt}`,
      });
    }
    const windows = generationWindows(entry);
    let currentObjects = 0;
    let currentRecords = 0;
    let recordsExact = true;
    for (const window of windows) {
      const own = objects
        .filter((o) => o.generation === window.generation && o.descriptor !== undefined)
        .sort((a, b) => a.firstOffset - b.firstOffset);
      // A superseded generation only has to hold what is still current of it.
      const target = window.current ? window.end : window.currentUpTo;
      const walk = walkChain(own, window.start, target, window.current);
      const chain = new Set(walk.chain);
      const reported = new Set<CatalogedObject>();
      for (const gap of walk.gaps) {
        // An object of this generation that starts in the gap but cannot be read may hold it.
        const unread = objects.filter(
          (o) => o.descriptor === undefined && o.generation === window.generation && o.firstOffset >= gap.from && o.firstOffset <= gap.to,
        );
        findings.push({
          severity: 'error',
          kind: 'gap',
          ...at,
          generation: window.generation,
          ...(unread.length > 0 ? { keys: unread.map((o) => o.key) } : {}),
          message:
            `offsets ${gap.from}-${gap.to}: no object continues after offset ${gap.from - 1}, but generation ${window.generation} ` +
            `${window.current ? 'committed' : 'is current'} up to ${target}: ` +
            (unread.length > 0 ? 'unaccounted for (an object there cannot be read; see above): records may be lost' : 'records lost'),
        });
      }
      for (const links of walk.forks) {
        for (const link of links) reported.add(link);
        findings.push({
          severity: 'error',
          kind: 'overlap',
          ...at,
          generation: window.generation,
          keys: links.map((o) => o.key),
          message: `${links.length} objects continue after offset ${links[0]!.descriptor!.afterOffset}: duplicates`,
        });
      }
      for (const skip of walk.skips) {
        // Offsets the chain passes over: no record there, or records this generation never got.
        // Records of an older generation there are current nowhere (a replay whose consumer
        // group started later than the ledger's reset point, say).
        const proof = objects.filter(
          (o) => o.descriptor !== undefined && o.generation < window.generation && holdsRecordIn(o, skip.from, skip.to),
        );
        if (proof.length === 0) continue;
        const recorded = (entry.skippedRanges ?? []).some(
          (r) => r.generation === window.generation && r.fromOffset <= skip.to && skip.from <= r.toOffset,
        );
        findings.push({
          severity: 'error',
          kind: 'not-current',
          ...at,
          generation: window.generation,
          keys: proof.map((o) => o.key),
          message:
            `offsets ${skip.from}-${skip.to} are current nowhere: generation ${window.generation} continues past them, while objects of ` +
            `generation(s) ${[...new Set(proof.map((o) => o.generation))].join(', ')} hold records there` +
            (recorded ? ' (the delivery path recorded them as skipped: the source started past the reset point)' : ''),
        });
      }
      let superseded = 0;
      for (const object of own) {
        const d = object.descriptor!;
        const outside = d.firstOffset > window.currentUpTo || d.lastOffset <= window.start;
        if (!window.current && outside) {
          superseded += 1;
          prunable.push(object.key);
        }
        if (chain.has(object) || reported.has(object)) continue;
        const overlapping = walk.chain.filter(
          (c) => c.descriptor!.firstOffset <= d.lastOffset && d.firstOffset <= c.descriptor!.lastOffset,
        );
        if (overlapping.length > 0) {
          findings.push({
            severity: 'error',
            kind: 'overlap',
            ...at,
            generation: window.generation,
            keys: [object.key, ...overlapping.map((o) => o.key)],
            message: `offsets ${d.firstOffset}-${d.lastOffset} also lie in a committed object: duplicates`,
          });
        } else if (window.current && d.firstOffset > window.end) {
          findings.push({
            severity: 'warning',
            kind: 'orphan',
            ...at,
            generation: window.generation,
            keys: [object.key],
            message: `offsets ${d.firstOffset}-${d.lastOffset} lie beyond the committed offset ${window.end} (an invocation died before its commit; the next delivery adopts it)`,
          });
        } else if (!outside) {
          findings.push({
            severity: 'warning',
            kind: 'orphan',
            ...at,
            generation: window.generation,
            keys: [object.key],
            message:
              `offsets ${d.firstOffset}-${d.lastOffset} lie within generation ${window.generation}'s window but off its chain: ` +
              `it continues after offset ${d.afterOffset}, where no committed object of the chain ends`,
          });
        }
      }
      for (const object of walk.chain) {
        const d = object.descriptor!;
        if (d.firstOffset > window.currentUpTo) continue;
        currentObjects += 1;
        if (d.lastOffset <= window.currentUpTo) currentRecords += d.recordCount;
        else if (isDense(object)) currentRecords += window.currentUpTo - d.firstOffset + 1;
        else {
          // Only reading the object would tell how many of its records lie in the window.
          currentRecords += 1;
          recordsExact = false;
        }
      }
      if (!window.current && superseded > 0) {
        findings.push({
          severity: 'warning',
          kind: 'superseded',
          ...at,
          generation: window.generation,
          message: `${superseded} object(s) of generation ${window.generation} lie wholly after offset ${window.currentUpTo}, replaced by a later generation (prunable)`,
        });
      }
    }
    for (const object of objects) {
      if (object.descriptor && !windows.some((w) => w.generation === object.generation)) {
        findings.push({
          severity: 'warning',
          kind: 'orphan',
          ...at,
          generation: object.generation,
          keys: [object.key],
          message: `generation ${object.generation} is not in the ledger's history`,
        });
      }
    }
    partitions.push({
      ...at,
      generation: entry.generation,
      committedOffset: entry.committedOffset,
      objects: currentObjects,
      records: currentRecords,
      recordsExact,
      deadLetters,
      skippedOffsets: (entry.skippedRanges ?? []).reduce((sum, range) => sum + skippedCount(range), 0),
    });
  }
  return {
    partitions,
    findings,
    prunable: [...new Set(prunable)].sort(),
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}

/** What a walk along a generation's chain found. */
interface ChainWalk {
  /** The objects on the chain, in offset order. */
  readonly chain: readonly CatalogedObject[];
  /** Offsets no object covers (both ends inclusive) up to the target: lost. */
  readonly gaps: ReadonlyArray<{ readonly from: number; readonly to: number }>;
  /** Links where more than one object continues from one offset. */
  readonly forks: ReadonlyArray<readonly CatalogedObject[]>;
  /** Offsets a chain object passes over between its after-offset and its first record. */
  readonly skips: ReadonlyArray<{ readonly from: number; readonly to: number }>;
}

/**
 * Walks the chain of one generation's objects (sorted by first offset) from `start` to
 * `target`. Where several objects continue from one offset, it follows one from which the chain
 * reaches the target (exactly, for the current generation: its committed offset). Where none
 * does, it records the gap and resumes at the lowest object that continues from above it, so that
 * one missing object hides nothing after it.
 */
function walkChain(own: readonly CatalogedObject[], start: number, target: number, exact: boolean): ChainWalk {
  const after = new Map<number, CatalogedObject[]>();
  for (const object of own) {
    const d = object.descriptor!;
    // An object must end after what it continues from, or the walk could go round in circles.
    if (d.lastOffset <= d.afterOffset || d.firstOffset <= d.afterOffset) continue;
    after.set(d.afterOffset, [...(after.get(d.afterOffset) ?? []), object]);
  }
  const reaches = new Map<CatalogedObject, boolean>();
  const reachesTarget = (object: CatalogedObject): boolean => {
    const known = reaches.get(object);
    if (known !== undefined) return known;
    const last = object.descriptor!.lastOffset;
    // Chains are short links forward; an explicit stack would only matter for pathological input.
    const result = last >= target ? !exact || last === target : (after.get(last) ?? []).some(reachesTarget);
    reaches.set(object, result);
    return result;
  };
  const chain: CatalogedObject[] = [];
  const gaps: Array<{ from: number; to: number }> = [];
  const forks: CatalogedObject[][] = [];
  const skips: Array<{ from: number; to: number }> = [];
  let cursor = start;
  while (cursor < target) {
    const links = after.get(cursor) ?? [];
    if (links.length === 0) {
      const resume = [...after.keys()].filter((offset) => offset > cursor && offset < target).sort((a, b) => a - b)[0];
      gaps.push({ from: cursor + 1, to: resume ?? target });
      if (resume === undefined) break;
      cursor = resume;
      continue;
    }
    if (links.length > 1) forks.push(links);
    const link = links.find(reachesTarget) ?? links[0]!;
    const d = link.descriptor!;
    if (d.firstOffset > d.afterOffset + 1) skips.push({ from: d.afterOffset + 1, to: Math.min(d.firstOffset - 1, target) });
    chain.push(link);
    cursor = d.lastOffset;
  }
  return { chain, gaps, forks, skips };
}

/** Every offset of the object's range holds one of its records. */
function isDense(object: CatalogedObject): boolean {
  const d = object.descriptor!;
  return d.recordCount === d.lastOffset - d.firstOffset + 1;
}

/**
 * Whether the object's metadata proves that it holds a record in `from..to`: its first record
 * lies there, its last offset does, or every offset of its range is a record and the ranges meet.
 */
function holdsRecordIn(object: CatalogedObject, from: number, to: number): boolean {
  const d = object.descriptor!;
  const within = (offset: number) => offset >= from && offset <= to;
  if (d.recordCount === 0) return false;
  return within(d.firstOffset) || within(d.lastOffset) || (isDense(object) && d.firstOffset <= to && from <= d.lastOffset);
}
