/** `prune`: delete the objects no generation counts as current. */
import { deleteObjectBatch } from '../aws/s3-inventory.ts';
import { OperationError } from '../core/errors.ts';
import { catalog, type CatalogedObject } from '../manifest/catalog.ts';
import type { Context } from './cli-context.ts';
import { reconcile } from './verify.ts';

/**
 * Deletes superseded objects: those wholly outside their generation's window as the ledger's
 * history defines it (see `reconcile`). A partition with any error (a gap, an overlap, an object
 * it cannot read) is refused whole: what is current there is in doubt. A dry run unless --yes;
 * each partition's audit record goes on its ledger entry before its objects are deleted.
 */
export async function prune(context: Context): Promise<number> {
  const [entries, objects] = await Promise.all([
    context.ledger.list({ topic: context.topic }),
    catalog(context.inventory, { prefix: context.prefix, topic: context.topic, onProgress: context.progress('scan') }),
  ]);
  const only = context.partitions;
  const report = reconcile({
    entries: entries.filter((e) => only === undefined || only.includes(e.partition)),
    objects: objects.filter((o) => only === undefined || only.includes(o.partition)),
  });
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const errors = new Map<string, string[]>();
  for (const finding of report.findings.filter((f) => f.severity === 'error')) {
    const id = `${finding.topic}/${finding.partition}`;
    errors.set(id, [...(errors.get(id) ?? []), `${finding.kind}: ${finding.message}`]);
  }
  const groups = new Map<string, CatalogedObject[]>();
  for (const key of report.prunable) {
    const object = byKey.get(key)!;
    const id = `${object.topic}/${object.partition}`;
    groups.set(id, [...(groups.get(id) ?? []), object]);
  }
  const refused = [...errors.keys()].sort().map((id) => {
    const [topic, partition] = [id.slice(0, id.lastIndexOf('/')), Number(id.slice(id.lastIndexOf('/') + 1))];
    return { topic, partition, errors: errors.get(id)!, objects: groups.get(id)?.length ?? 0 };
  });
  const planned = [...groups.entries()].filter(([id]) => !errors.has(id)).sort(([a], [b]) => (a < b ? -1 : 1));
  const keys = planned.flatMap(([, group]) => group.map((o) => o.key));
  const dryRun = !context.values.yes || Boolean(context.values['dry-run']);
  const audit = dryRun ? undefined : await context.pruneAudit();
  context.print({ dryRun, ...(audit ? { id: audit.id } : {}), keys, refused }, () =>
    [
      ...refused.map(
        (r) =>
          `REFUSED ${r.topic}-${r.partition}: ${r.errors.length} error(s), so what is current there is in doubt (see msk-s3-sink verify); ` +
          `${r.objects} object(s) left alone\n    ${r.errors[0]}\n`,
      ),
      `${dryRun ? 'Would delete' : 'Deleting'} ${keys.length} superseded object(s)${keys.length ? `:\n  ${keys.join('\n  ')}` : ''}\n`,
      dryRun && keys.length > 0 ? 'dry run: nothing deleted; run again with --yes to delete\n' : '',
    ].join(''),
  );
  if (dryRun || keys.length === 0) return refused.length > 0 ? 1 : 0;
  let deleted = 0;
  for (const [, group] of planned) {
    const { topic, partition } = group[0]!;
    const offsets = group.map((o) => o.descriptor!);
    // Recorded first: a deletion never goes unrecorded, even if the process dies halfway.
    await context.ledger.recordPrune(topic, partition, {
      ...audit!,
      generations: [...new Set(offsets.map((d) => d.generation))].sort((a, b) => a - b),
      fromOffset: Math.min(...offsets.map((d) => d.firstOffset)),
      toOffset: Math.max(...offsets.map((d) => d.lastOffset)),
      objects: group.length,
      bytes: group.reduce((sum, o) => sum + o.size, 0),
    });
    const groupKeys = group.map((o) => o.key);
    for (let start = 0; start < groupKeys.length; start += 1000) {
      const batch = groupKeys.slice(start, start + 1000);
      const failures = await deleteObjectBatch(context.s3, context.bucket, batch);
      if (failures.length) {
        throw new OperationError(
          `${topic}-${partition}: could not delete ${failures.length} object(s) (prune ${audit!.id}; run prune again): ` +
            `${failures[0]!.key}: ${failures[0]!.message}`,
        );
      }
      deleted += batch.length;
    }
  }
  if (!context.values.json) {
    context.io.stdout.write(
      `Deleted ${deleted} superseded object(s) of ${planned.length} partition(s) (prune ${audit!.id}, by ${audit!.by}; see msk-s3-sink history)\n`,
    );
  }
  return refused.length > 0 ? 1 : 0;
}
