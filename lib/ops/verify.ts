import { type CatalogedObject, generationWindows } from './catalog.ts';
import type { AuditedLedgerEntry } from './ledger-admin.ts';

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
  /** Objects on the current generation's chain, and the records they hold. */
  readonly objects: number;
  readonly records: number;
  readonly deadLetters: number;
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
 * its committed offset; a missing link is a gap, a second object on one link an overlap.
 */
export function reconcile(input: {
  readonly entries: readonly AuditedLedgerEntry[];
  readonly objects: readonly CatalogedObject[];
  /** Dead letters per `topic/partition`. */
  readonly deadLetters?: ReadonlyMap<string, number>;
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
      findings.push({ severity: 'error', kind: 'unreadable', ...at, generation: object.generation, keys: [object.key], message: object.problem ?? 'unreadable' });
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
    let chainObjects = 0;
    let chainRecords = 0;
    for (const window of generationWindows(entry)) {
      const own = objects
        .filter((o) => o.generation === window.generation && o.descriptor !== undefined)
        .sort((a, b) => a.firstOffset - b.firstOffset);
      const chain = new Set<CatalogedObject>();
      // A superseded generation only has to hold what is still current of it.
      const target = window.current ? window.end : window.currentUpTo;
      let cursor = window.start;
      while (cursor < target) {
        const links = own.filter((o) => o.descriptor!.afterOffset === cursor);
        if (links.length === 0) {
          findings.push({
            severity: 'error',
            kind: 'gap',
            ...at,
            generation: window.generation,
            message: `no object continues after offset ${cursor}, but generation ${window.generation} committed up to ${target}: records lost`,
          });
          break;
        }
        if (links.length > 1) {
          findings.push({
            severity: 'error',
            kind: 'overlap',
            ...at,
            generation: window.generation,
            keys: links.map((o) => o.key),
            message: `${links.length} objects continue after offset ${cursor}`,
          });
        }
        const link = links[0]!;
        chain.add(link);
        cursor = link.descriptor!.lastOffset;
      }
      let superseded = 0;
      for (const object of own) {
        if (chain.has(object)) continue;
        const d = object.descriptor!;
        const overlapping = [...chain].filter((c) => c.descriptor!.firstOffset <= d.lastOffset && d.firstOffset <= c.descriptor!.lastOffset);
        if (overlapping.length > 0) {
          findings.push({
            severity: 'error',
            kind: 'overlap',
            ...at,
            generation: window.generation,
            keys: [object.key, ...overlapping.map((o) => o.key)],
            message: `offsets ${d.firstOffset}-${d.lastOffset} also lie in a committed object: duplicates`,
          });
        } else if (window.current) {
          findings.push({
            severity: 'warning',
            kind: 'orphan',
            ...at,
            generation: window.generation,
            keys: [object.key],
            message: `offsets ${d.firstOffset}-${d.lastOffset} lie beyond the committed offset ${window.end} (an invocation died before its commit; the next delivery adopts it)`,
          });
        } else {
          superseded += 1;
          prunable.push(object.key);
        }
      }
      if (window.current) {
        chainObjects = chain.size;
        chainRecords = [...chain].reduce((sum, object) => sum + object.descriptor!.recordCount, 0);
      } else if (superseded > 0) {
        findings.push({
          severity: 'warning',
          kind: 'superseded',
          ...at,
          generation: window.generation,
          message: `${superseded} object(s) of generation ${window.generation} lie after offset ${window.currentUpTo}, replaced by a later generation (prunable)`,
        });
      }
    }
    for (const object of objects) {
      if (object.descriptor && !generationWindows(entry).some((w) => w.generation === object.generation)) {
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
      objects: chainObjects,
      records: chainRecords,
      deadLetters,
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
