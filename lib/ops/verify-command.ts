/** `verify`: read S3 back and reconcile it with the ledger. */
import { catalog, type CatalogedObject } from '../manifest/catalog.ts';
import type { Context } from './cli-context.ts';
import { table } from './cli-output.ts';
import { clusterTopicIds } from './topic-ids.ts';
import { reconcile } from './verify.ts';

/**
 * Reconciles S3 with the ledger (see `reconcile`) and prints the partitions, the findings and a
 * verdict; exit 1 on any error (with --strict: any warning). With --bootstrap-servers it also
 * reports partitions whose topic was deleted and created again.
 */
export async function verify(context: Context): Promise<number> {
  const started = context.io.now();
  const progress = context.progress('verify');
  const [entries, objects, deadLetters] = await Promise.all([
    context.ledger.list({ topic: context.topic }),
    catalog(context.inventory, { prefix: context.prefix, topic: context.topic, partition: context.partitions?.[0], onProgress: progress }),
    countDeadLetters(context),
  ]);
  progress.end();
  const unreadable = context.values.read ? await readBack(context, objects) : [];
  const selected = entries.filter((e) => context.partitions === undefined || context.partitions.includes(e.partition));
  // Only the cluster can tell a re-created topic: the ledger and S3 agree with each other.
  const kafka = context.kafka;
  const report = reconcile({
    entries: selected,
    objects: objects.map((o) =>
      unreadable.some((u) => u.key === o.key)
        ? { ...o, descriptor: undefined, problem: unreadable.find((u) => u.key === o.key)!.problem }
        : o,
    ),
    deadLetters,
    ...(kafka ? { clusterTopicIds: await clusterTopicIds(kafka, selected) } : {}),
  });
  const seconds = (context.io.now() - started) / 1000;
  context.print({ ...report, objectsScanned: objects.length, seconds }, () => {
    const lines = [
      table(
        ['topic', 'partition', 'generation', 'committed', 'objects', 'records', 'dead letters', 'skipped'],
        report.partitions.map((p) => [
          p.topic,
          p.partition,
          p.generation,
          p.committedOffset,
          p.objects,
          p.recordsExact ? p.records : `≥${p.records}`,
          p.deadLetters,
          p.skippedOffsets,
        ]),
      ),
      ...report.findings.map(
        (f) =>
          `${f.severity.toUpperCase()} ${f.kind} ${f.topic}-${f.partition}${f.generation === undefined ? '' : ` (generation ${f.generation})`}: ${f.message}${f.keys ? `\n    ${f.keys.slice(0, 5).join('\n    ')}${f.keys.length > 5 ? `\n    … and ${f.keys.length - 5} more` : ''}` : ''}`,
      ),
      `${objects.length} objects scanned in ${seconds.toFixed(1)} s (${(objects.length / Math.max(seconds, 0.001)).toFixed(0)} objects/s): ${report.errors} error(s), ${report.warnings} warning(s)${report.prunable.length ? `, ${report.prunable.length} prunable object(s) (msk-s3-sink prune)` : ''}`,
      verdict(report, Boolean(context.values.strict)),
    ];
    return `${lines.join('\n')}\n`;
  });
  return report.errors > 0 || (context.values.strict && report.warnings > 0) ? 1 : 0;
}

/** verify's last line, in step with its exit code: never OK when it exits 1. */
function verdict(report: { readonly errors: number; readonly warnings: number }, strict: boolean): string {
  if (report.errors > 0) return 'INCONSISTENT: see the errors above';
  if (strict && report.warnings > 0) return `NOT OK (--strict): no errors, but ${report.warnings} warning(s) above`;
  return 'OK: S3 and the ledger agree';
}

async function countDeadLetters(context: Context): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const prefix = `${context.deadLetterPrefix}${context.topic ? `${context.topic}/` : ''}`;
  for await (const object of context.inventory.list(prefix)) {
    const match = /([^/]+)\/partition=(\d+)\/[^/]+$/.exec(object.key);
    if (!match) continue;
    const id = `${match[1]}/${match[2]}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Reads every object: its lines must be its metadata's records, in order, in its range. */
async function readBack(context: Context, objects: readonly CatalogedObject[]): Promise<Array<{ key: string; problem: string }>> {
  const problems: Array<{ key: string; problem: string }> = [];
  const progress = context.progress('read');
  let done = 0;
  const queue = objects.filter((o) => o.descriptor !== undefined);
  const worker = async () => {
    for (let object = queue.shift(); object; object = queue.shift()) {
      try {
        const text = (await context.inventory.read(object.key)).toString('utf8');
        const lines = text === '' ? [] : text.slice(0, -1).split('\n');
        const d = object.descriptor!;
        if (lines.length !== d.recordCount) throw new Error(`${lines.length} lines, metadata says ${d.recordCount} records`);
        let previous = d.afterOffset;
        for (const line of lines) {
          const offset = Number((JSON.parse(line) as { offset: unknown }).offset);
          if (!(offset > previous && offset <= d.lastOffset))
            throw new Error(`offset ${offset} out of order or outside ${d.firstOffset}-${d.lastOffset}`);
          previous = offset;
        }
      } catch (error) {
        problems.push({ key: object.key, problem: `unreadable: ${(error as Error).message}` });
      }
      progress(++done, objects.length);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  progress.end();
  return problems;
}
