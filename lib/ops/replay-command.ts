/** `replay`: the whole replay of a Lambda event source mapping's partitions. */
import { IamRolePolicies } from '../aws/iam-policy.ts';
import type { Context } from './cli-context.ts';
import { nonNegative, UsageError } from './cli-options.ts';
import { newGroupAccessCheck, replayInPlace, replayWithNewGroup } from './replay.ts';
import { printPlan } from './reset-command.ts';

/** Runs a whole replay of a Lambda event source mapping (see replay.ts) and prints its plan. */
export async function replay(context: Context): Promise<number> {
  if (context.usesLedgerFile) {
    throw new UsageError(
      'replay drives a Lambda event source mapping and its consumer group; a standalone worker with a ledger file replays in ' +
        'three steps: stop the worker, `msk-s3-sink reset --ledger-file PATH --topic T (--to-offset N | --to-timestamp T | ' +
        "--to-earliest | --to-latest) --reason TEXT`, start the worker (it resumes every partition at the ledger's committed offset + 1)",
    );
  }
  const topic = context.requireTopic();
  const functionName = context.values.function;
  if (!functionName) throw new UsageError('replay needs --function (the sink function whose mapping reads --topic)');
  const kafka = context.kafka;
  if (!kafka) throw new UsageError('replay needs --bootstrap-servers: it resets the consumer group on the cluster');
  const audit = await context.audit();
  const log = (line: string) => context.io.stderr.write(`${line}\n`);
  const io = context.io;
  const clock = { now: io.now, sleep: io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))) };
  const deps = { mappings: context.mappings, kafka, ledger: context.ledger, log, clock };
  const pollSeconds = context.values['poll-seconds'] === undefined ? 5 : nonNegative('--poll-seconds', context.values['poll-seconds']);
  const common = {
    functionName,
    mappingUuid: context.values.mapping,
    topic,
    audit,
    dryRun: context.values['dry-run'],
    pollIntervalMs: pollSeconds * 1000,
  };
  log(`replay ${audit.id} (run again with --id ${audit.id} to resume)`);
  const steps = context.values['new-group']
    ? await replayWithNewGroup(
        {
          ...deps,
          preflight: newGroupAccessCheck({
            mappings: context.mappings,
            policies: new IamRolePolicies({ region: context.region, endpoint: context.iamEndpoint }),
            functionName,
            newGroupId: context.values['new-group'],
            force: Boolean(context.values.force),
            warn: log,
          }),
        },
        {
          ...common,
          timestamp: (() => {
            const target = context.target();
            if (target.kind !== 'timestamp') throw new UsageError('--new-group starts the new consumer group at --to-timestamp');
            return target.timestamp;
          })(),
          newGroupId: context.values['new-group'],
          deleteOld: Boolean(context.values['delete-old']),
        },
      )
    : await replayInPlace(deps, { ...common, partitions: context.partitions, target: context.target() });
  printPlan(context, steps, audit);
  return 0;
}
