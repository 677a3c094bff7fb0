/** `reset`: move partitions back or forward as a new ledger generation. */
import { OperationError } from '../core/errors.ts';
import { LedgerLockedError } from '../ledger/file-ledger.ts';
import { FileLedgerAdmin } from '../ledger/file-ledger-admin.ts';
import type { Context } from './cli-context.ts';
import { UsageError } from './cli-options.ts';
import { table } from './cli-output.ts';
import { assertReadsTopic, invocationsDrained, resolveTarget } from './replay.ts';
import { applyReset, planReset, type ResetStep } from './reset.ts';

/**
 * Resets partitions of --topic as a new ledger generation, after the guard of its ledger: the
 * file's lock, or the mapping disabled for longer than the function timeout (or --force).
 */
export async function reset(context: Context): Promise<number> {
  const topic = context.requireTopic();
  const target = context.target();
  const audit = await context.audit();
  const functionName = context.values.function;
  const ledger = context.ledger;
  if (ledger instanceof FileLedgerAdmin) {
    // A standalone worker: the guard is the file's lock, which every write of the reset takes
    // (and --force does not lift). Checked here too, to refuse before a plan is printed; a dry
    // run only notes it.
    if (functionName || context.values.mapping) {
      throw new UsageError(
        "--function and --mapping name a Lambda event source mapping; with --ledger-file the ledger file's lock is the guard " +
          '(reset refuses while a worker holds the file)',
      );
    }
    try {
      ledger.assertUnlocked();
    } catch (error) {
      if (!(error instanceof LedgerLockedError) || !context.values['dry-run']) throw error;
      context.io.stderr.write(`note: ${error.message}\n`);
    }
  } else if (context.values.force) {
    if (!context.values['dry-run']) {
      context.io.stderr.write(
        'WARNING: --force: the reset does not check that no invocation of the sink function is still running. One that holds a batch ' +
          'from before the reset can read the new generation and commit past it, and the replayed records it skips are then current ' +
          'nowhere, with no error from verify. Use `replay` (it fences the function and waits out its timeout), or disable the ' +
          'mapping and wait the function timeout before resetting.\n',
      );
    }
  } else if (!context.values['dry-run']) {
    if (!functionName && !context.values.mapping) {
      throw new UsageError(
        'reset refuses to run without knowing that the event source mapping is disabled: give --function (or --mapping), ' +
          'or --force if there is none (use `replay` to disable and enable it for you)',
      );
    }
    const mapping = context.values.mapping
      ? await context.mappings.get(context.values.mapping)
      : await context.mappings.findOne(functionName!, topic);
    assertReadsTopic(mapping, topic);
    const fn = functionName ?? mapping.functionArn;
    if (!fn) throw new OperationError(`mapping ${mapping.uuid} names no function`);
    const drained = await invocationsDrained(context.mappings, mapping, fn, context.io.now());
    if (!drained.drained) {
      throw new OperationError(
        `${drained.reason}. Disable the mapping and wait until the function timeout has passed, or use \`replay\` (it fences the function and waits for you), or --force`,
      );
    }
  }
  const kafka = context.kafka;
  const nextOffsets = await resolveTarget(target, topic, context.partitions, kafka);
  const entries = await ledger.list({ topic });
  // With the cluster, resolveTarget refused partitions it does not have; without it, a partition
  // the ledger does not know either may be a typo that would create an entry for nothing.
  const unknown = kafka ? [] : [...nextOffsets.keys()].filter((p) => !entries.some((e) => e.partition === p));
  for (const partition of unknown) {
    context.io.stderr.write(
      `warning: ${topic}-${partition} has no ledger entry, and without --bootstrap-servers the cluster cannot confirm it exists: ` +
        'the reset would create a ledger entry for it\n',
    );
  }
  if (unknown.length > 0 && !context.values.force && !context.values['dry-run']) {
    throw new OperationError(
      `partition${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} of ${topic} ${unknown.length > 1 ? 'are' : 'is'} in neither the ledger nor a known cluster: ` +
        'give --bootstrap-servers to check, or --force to reset anyway',
    );
  }
  const steps = planReset({ id: audit.id, topic, entries, nextOffsets });
  printPlan(context, steps, audit);
  if (context.values['dry-run']) return 0;
  await applyReset(ledger, steps, audit);
  context.io.stderr.write(
    ledger instanceof FileLedgerAdmin
      ? `Reset ${audit.id} applied to ${steps.length} partition(s). Start the worker again: it resumes every partition at the ` +
          "ledger's committed offset + 1, so delivery starts again at the next offsets shown, in the new generation.\n"
      : `Reset ${audit.id} applied to ${steps.length} partition(s). The consumer group still has its own offsets: ` +
          'reset them too (or use `replay`) so that the records are delivered again.\n',
  );
  return 0;
}

/** Prints a reset's steps (also a replay's): what each partition goes from and to, or `--json`. */
export function printPlan(context: Context, steps: readonly ResetStep[], audit: { id: string; reason: string; by: string }): void {
  context.print(
    { id: audit.id, dryRun: Boolean(context.values['dry-run']), steps },
    () =>
      `${context.values['dry-run'] ? 'Would reset' : 'Resetting'} (id ${audit.id}, by ${audit.by}: ${audit.reason}):\n` +
      table(
        ['topic', 'partition', 'generation', 'committed', '→ generation', 'next offset', 'direction'],
        steps.map((s) => [
          s.topic,
          s.partition,
          s.current?.generation ?? '-',
          s.current?.committedOffset ?? '-',
          s.toGeneration,
          s.nextOffset,
          s.alreadyApplied ? 'already applied' : s.direction,
        ]),
      ),
  );
}
