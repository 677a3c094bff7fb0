/** `manifest`: write the manifests of the time partitions every partition has committed past. */
import { S3ObjectStore } from '../aws/s3-object-store.ts';
import { OperationError } from '../core/errors.ts';
import { manifestLayoutProblem, writeDueManifests } from '../manifest/manifest.ts';
import type { Context } from './cli-context.ts';
import { nonNegative } from './cli-options.ts';

/** Writes the due `_manifest.json` of --topic (see `writeDueManifests`) and prints what was written and what still waits. */
export async function manifest(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const layout = context.layout;
  const problem = manifestLayoutProblem(layout);
  if (problem) throw new OperationError(problem);
  const { plan, ...result } = await writeDueManifests({
    inventory: context.inventory,
    ledger: context.ledger,
    store: new S3ObjectStore({ client: context.s3, bucket: context.bucket }),
    prefix: context.prefix,
    topic,
    layout,
    ...(context.values['grace-ms'] === undefined ? {} : { graceMs: nonNegative('--grace-ms', context.values['grace-ms']) }),
    ...(context.values.partitions === undefined ? {} : { partitions: nonNegative('--partitions', context.values.partitions) }),
    dryRun: Boolean(context.values['dry-run']),
    onProgress: context.progress('scan'),
  });
  context.print(
    { dryRun: Boolean(context.values['dry-run']), due: plan.manifests.map((m) => m.key), ...result, pending: plan.pending },
    () =>
      `${plan.manifests.length} complete time partition(s)${context.values['dry-run'] ? ' (dry run: nothing written)' : `: ${result.written.length} manifest(s) written, ${result.existing.length} already there`}\n` +
      plan.manifests.map((m) => `  ${m.key}\n`).join('') +
      (plan.pending.length
        ? `${plan.pending.length} not complete yet:\n${plan.pending.map((p) => `  ${p.path} waiting for partition(s) ${p.waitingFor.join(', ')}\n`).join('')}`
        : ''),
  );
  return 0;
}
