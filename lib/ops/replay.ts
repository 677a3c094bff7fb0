import { OperationError } from '../core/errors.ts';
import type { KafkaAdmin } from '../kafka/kafka-admin.ts';
import type { LedgerAdminPort } from '../ledger/admin.ts';
import { checkReplayId, FENCE_TAG, type LambdaMappings, type MappingInfo, MappingState } from '../aws/lambda-mappings.ts';
import { applyReset, planReset, type ResetStep } from './reset.ts';
import { checkNewGroupAccess, GROUP_ACTIONS, PolicyUnreadableError, type RolePolicySource, usesIamAuth } from '../aws/iam-policy.ts';

/** Where a replay (or skip) makes delivery start again. */
export type ResetTarget =
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'timestamp'; readonly timestamp: number }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' };

/** Who does it, and why: written into the ledger's reset history. */
export interface Audit {
  readonly id: string;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
}

/** Reports each step as it goes, so an operator sees where a run stopped. */
export type StepLog = (line: string) => void;

/** The time, and a way to let it pass: injected by tests. */
export interface ReplayClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const systemReplayClock: ReplayClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Added to the function timeout when waiting for invocations to end: Lambda stops an invocation
 * at its timeout, but not to the millisecond, and our clock is not Lambda's.
 */
export const DRAIN_MARGIN_MS = 10_000;

/** An error unless `mapping` reads `topic` (a `--mapping` given by hand may be another topic's). */
export function assertReadsTopic(mapping: MappingInfo, topic: string): void {
  if (!mapping.topics.includes(topic)) {
    throw new OperationError(
      `mapping ${mapping.uuid} reads ${mapping.topics.length ? mapping.topics.join(', ') : 'no topic'}, not ${topic}: check --mapping and --topic`,
    );
  }
}

/**
 * Fences the function (reserved concurrency 0, the value it replaces kept in its `FENCE_TAG`
 * tag) and waits until every invocation that started before the fence has ended: the function
 * timeout after the fence took effect. `Disabled` on a mapping only means polling stopped; an
 * invocation still running could read the ledger after the reset and deliver an old batch into
 * the new generation (docs/protocol.md, "A reset (replay) during processing").
 */
async function fenceAndDrain(
  mappings: LambdaMappings,
  functionName: string,
  id: string,
  clock: ReplayClock,
  log: StepLog,
  step: { readonly fence: string; readonly drain: string },
): Promise<void> {
  log(`${step.fence} fence function ${functionName}: reserved concurrency 0, so that no invocation starts`);
  const fence = await mappings.fence(functionName, id, clock.now);
  log(
    `    reserved concurrency before the replay: ${fence.reservedConcurrency ?? 'none'} (kept in the function's ${FENCE_TAG} tag until it is restored)`,
  );
  const until = fence.fencedAt + fence.function.timeoutSeconds * 1000 + DRAIN_MARGIN_MS;
  const left = until - clock.now();
  log(
    `${step.drain} wait out the function timeout (${fence.function.timeoutSeconds} s): an invocation that started before the fence can run until ` +
      `${new Date(until).toISOString()}${left > 0 ? ` (${Math.ceil(left / 1000)} s from now)` : ' (passed)'}`,
  );
  if (left > 0) await clock.sleep(left);
}

/**
 * Whether no invocation that could hold a batch from before a reset can still run, for a bare
 * `reset`: the mapping is `Disabled` and has been for longer than the function timeout (Lambda's
 * `LastModified` is when its state last changed), or a replay's fence (reserved concurrency 0) has
 * been in place for that long. `until`: when it will hold, if known.
 */
export async function invocationsDrained(
  mappings: LambdaMappings,
  mapping: MappingInfo,
  functionName: string,
  now: number,
): Promise<{ readonly drained: true } | { readonly drained: false; readonly reason: string }> {
  const fn = await mappings.getFunction(functionName);
  const window = fn.timeoutSeconds * 1000 + DRAIN_MARGIN_MS;
  const fence = fn.reservedConcurrency === 0 ? await mappings.fenceRecord(fn.arn) : undefined;
  if (fence?.fencedAt !== undefined && fence.fencedAt + window <= now) return { drained: true };
  if (mapping.state !== MappingState.disabled) {
    return { drained: false, reason: `mapping ${mapping.uuid} is ${mapping.state}: an invocation in flight would deliver past the reset` };
  }
  if (mapping.lastModified === undefined) {
    return { drained: false, reason: `mapping ${mapping.uuid} is Disabled, but Lambda does not say since when` };
  }
  const until = mapping.lastModified.getTime() + window;
  if (until <= now) return { drained: true };
  return {
    drained: false,
    reason:
      `mapping ${mapping.uuid} is Disabled since ${mapping.lastModified.toISOString()}, but an invocation that started before can run until ` +
      `${new Date(until).toISOString()} (function timeout ${fn.timeoutSeconds} s) and read the ledger after the reset`,
  };
}

/**
 * The check `replayWithNewGroup` runs before changing anything: on a cluster with IAM auth, the
 * function's role must allow the new consumer group (`GROUP_ACTIONS` on its ARN). When the role's
 * policies cannot be read, it says so and stops unless `force` (then it warns and goes on).
 */
export function newGroupAccessCheck(input: {
  readonly mappings: LambdaMappings;
  readonly policies: RolePolicySource;
  readonly functionName: string;
  readonly newGroupId: string;
  readonly force: boolean;
  readonly warn: StepLog;
}): (old: MappingInfo | undefined, created: MappingInfo | undefined) => Promise<void> {
  return async (old, created) => {
    const raw = (old ?? created)?.raw;
    if (!raw || !usesIamAuth(raw)) return;
    const fn = await input.mappings.getFunction(input.functionName);
    try {
      await checkNewGroupAccess({ source: input.policies, roleArn: fn.role, clusterArn: raw.EventSourceArn!, group: input.newGroupId });
    } catch (error) {
      if (input.force) {
        input.warn(
          `WARNING: --force: going on without knowing that the function may use group ${input.newGroupId}: ${(error as Error).message}`,
        );
        return;
      }
      if (error instanceof PolicyUnreadableError) {
        throw new OperationError(
          `${error.message}. The cluster uses IAM auth, so the function's role needs ${GROUP_ACTIONS.join(' and ')} on the new group's ARN; ` +
            'the CLI cannot check it: check it yourself, then run again with --force (nothing was changed)',
          { cause: error },
        );
      }
      throw error;
    }
  };
}

/** Lifts the fence of replay `id`, restoring the reserved concurrency exactly as it was. */
async function unfence(mappings: LambdaMappings, functionName: string, id: string, log: StepLog): Promise<void> {
  const restored = await mappings.unfence(functionName, id);
  log(
    restored
      ? `    reserved concurrency of ${functionName} restored to ${restored.reservedConcurrency ?? 'none'}`
      : `    reserved concurrency of ${functionName}: restored already`,
  );
}

/**
 * The next offset to deliver, per partition, for a target. Offsets and "earliest" need no
 * cluster; a timestamp or "latest" does.
 */
export async function resolveTarget(
  target: ResetTarget,
  topic: string,
  partitions: readonly number[] | undefined,
  kafka: KafkaAdmin | undefined,
): Promise<Map<number, number>> {
  const need = (what: string): KafkaAdmin => {
    if (!kafka) throw new OperationError(`Resetting to ${what} needs the cluster: give --bootstrap-servers`);
    return kafka;
  };
  const pick = (all: ReadonlyArray<{ partition: number; offset: number }>) => {
    const chosen = partitions ? all.filter((p) => partitions.includes(p.partition)) : all;
    const missing = (partitions ?? []).filter((p) => !all.some((a) => a.partition === p));
    if (missing.length > 0) throw new OperationError(`Topic ${topic} has no partition ${missing.join(', ')}`);
    return new Map(chosen.map((p) => [p.partition, p.offset]));
  };
  switch (target.kind) {
    case 'offset':
    case 'earliest': {
      if (kafka) {
        const offsets = await kafka.listOffsets(topic);
        return pick(offsets.map((p) => ({ partition: p.partition, offset: target.kind === 'offset' ? target.offset : p.earliest })));
      }
      if (!partitions || partitions.length === 0) {
        throw new OperationError('Without --bootstrap-servers, name the partitions to reset with --partition');
      }
      return new Map(partitions.map((p) => [p, target.kind === 'offset' ? target.offset : 0]));
    }
    case 'timestamp':
      return pick(await need('a timestamp').offsetsForTimestamp(topic, target.timestamp));
    case 'latest':
      return pick((await need('the latest offset').listOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.highWatermark })));
  }
}

/**
 * Replay path (a), in place, Kafka Connect's "stop, alter offsets, resume" (KIP-875): disable the
 * mapping and wait until it is disabled, fence the function (reserved concurrency 0) and wait out
 * its timeout so that no invocation holding an old batch can still run, set the consumer group's
 * offsets on the cluster, reset the ledger (a new generation), restore the reserved concurrency,
 * enable the mapping. Every step checks whether it is already done, so running the same command
 * again (same `audit.id`) resumes after a failure.
 */
export async function replayInPlace(
  deps: {
    readonly mappings: LambdaMappings;
    readonly kafka: KafkaAdmin;
    readonly ledger: LedgerAdminPort;
    readonly log: StepLog;
    readonly clock?: ReplayClock;
  },
  options: {
    readonly functionName: string;
    readonly mappingUuid?: string;
    readonly topic: string;
    readonly partitions?: readonly number[];
    readonly target: ResetTarget;
    readonly audit: Audit;
    readonly dryRun?: boolean;
    readonly waitTimeoutMs?: number;
    readonly pollIntervalMs?: number;
  },
): Promise<ResetStep[]> {
  const { mappings, kafka, ledger, log } = deps;
  const clock = deps.clock ?? systemReplayClock;
  checkReplayId(options.audit.id);
  const mapping = options.mappingUuid
    ? await mappings.get(options.mappingUuid)
    : await mappings.findOne(options.functionName, options.topic);
  assertReadsTopic(mapping, options.topic);
  const group = mapping.consumerGroupId!;
  const nextOffsets = await resolveTarget(options.target, options.topic, options.partitions, kafka);
  const plan = async () =>
    planReset({ id: options.audit.id, topic: options.topic, entries: await ledger.list({ topic: options.topic }), nextOffsets });
  let steps = await plan();
  if (options.dryRun) return steps;
  await mappings.assertNotFencedByOther(options.functionName, options.audit.id);

  log(`1/6 disable mapping ${mapping.uuid} (${mapping.state})`);
  await mappings.setEnabled(mapping.uuid, false);
  await mappings.waitFor(mapping.uuid, MappingState.disabled, {
    timeoutMs: options.waitTimeoutMs,
    intervalMs: options.pollIntervalMs,
    onPoll: (state) => log(`    mapping ${mapping.uuid}: ${state}`),
  });
  if (steps.every((step) => step.alreadyApplied)) {
    // The reset is in the ledger: the fence and the wait came before it.
    log('2/6 fence: not needed, the ledger is reset already');
    log('3/6 wait: not needed');
  } else {
    await fenceAndDrain(mappings, options.functionName, options.audit.id, clock, log, { fence: '2/6', drain: '3/6' });
  }
  log(`4/6 set consumer group ${group} on ${options.topic}: ${[...nextOffsets].map(([p, o]) => `${p}→${o}`).join(', ')}`);
  await kafka.setGroupOffsets(
    group,
    options.topic,
    [...nextOffsets].map(([partition, offset]) => ({ partition, offset })),
  );
  // Read again: an invocation that ended during the wait may have committed.
  steps = await plan();
  log(`5/6 reset the ledger (reset ${options.audit.id})`);
  await applyReset(ledger, steps, options.audit, (step) =>
    log(
      `    ${step.topic}-${step.partition}: ${step.alreadyApplied ? 'already reset' : `generation ${step.toGeneration} from offset ${step.nextOffset}`}`,
    ),
  );
  log(`6/6 restore the reserved concurrency of ${options.functionName}, enable mapping ${mapping.uuid}`);
  await unfence(mappings, options.functionName, options.audit.id, log);
  await mappings.setEnabled(mapping.uuid, true);
  await mappings.waitFor(mapping.uuid, MappingState.enabled, {
    timeoutMs: options.waitTimeoutMs,
    intervalMs: options.pollIntervalMs,
    onPoll: (state) => log(`    mapping ${mapping.uuid}: ${state}`),
  });
  return steps;
}

/**
 * Replay path (b): a new mapping with a new consumer group starting at a timestamp, and the old
 * mapping retired. The old mapping is disabled and the function fenced (reserved concurrency 0)
 * until every invocation that could hold an old batch has ended; then the ledger is reset to the
 * offsets the cluster gives for that timestamp, so that the new group's first batches start
 * exactly where the new generation does. Resumable: a mapping of the new group that already
 * exists is reused, and the fence keeps the reserved concurrency it replaced.
 */
export async function replayWithNewGroup(
  deps: {
    readonly mappings: LambdaMappings;
    readonly kafka: KafkaAdmin;
    readonly ledger: LedgerAdminPort;
    readonly log: StepLog;
    readonly clock?: ReplayClock;
    /** Checks made once the mappings are known and before anything changes (the new group's permissions). */
    readonly preflight?: (old: MappingInfo | undefined, created: MappingInfo | undefined) => Promise<void>;
  },
  options: {
    readonly functionName: string;
    readonly mappingUuid?: string;
    readonly topic: string;
    readonly timestamp: number;
    readonly newGroupId: string;
    readonly deleteOld: boolean;
    readonly audit: Audit;
    readonly dryRun?: boolean;
    readonly waitTimeoutMs?: number;
    readonly pollIntervalMs?: number;
  },
): Promise<ResetStep[]> {
  const { mappings, kafka, ledger, log } = deps;
  const clock = deps.clock ?? systemReplayClock;
  checkReplayId(options.audit.id);
  const existing = await mappings.find(options.functionName, options.topic);
  const created = existing.find((m) => m.consumerGroupId === options.newGroupId);
  const old = options.mappingUuid
    ? await mappings.get(options.mappingUuid)
    : existing.filter((m) => m !== created).length === 1
      ? existing.find((m) => m !== created)!
      : undefined;
  if (!old && !created) await mappings.findOne(options.functionName, options.topic); // throws the precise error
  if (old) assertReadsTopic(old, options.topic);
  await deps.preflight?.(old, created);
  const nextOffsets = await resolveTarget({ kind: 'timestamp', timestamp: options.timestamp }, options.topic, undefined, kafka);
  const plan = async () =>
    planReset({ id: options.audit.id, topic: options.topic, entries: await ledger.list({ topic: options.topic }), nextOffsets });
  let steps = await plan();
  if (options.dryRun) return steps;
  await mappings.assertNotFencedByOther(options.functionName, options.audit.id);
  const wait = (uuid: string, state: MappingState) =>
    mappings.waitFor(uuid, state, {
      timeoutMs: options.waitTimeoutMs,
      intervalMs: options.pollIntervalMs,
      onPoll: (current) => log(`    mapping ${uuid}: ${current}`),
    });

  if (old) {
    log(`1/6 disable the old mapping ${old.uuid} (group ${old.consumerGroupId})`);
    await mappings.setEnabled(old.uuid, false);
    await wait(old.uuid, MappingState.disabled);
  } else {
    log('1/6 the old mapping is gone already');
  }
  if (steps.every((step) => step.alreadyApplied)) {
    log('2/6 fence: not needed, the ledger is reset already');
    log('3/6 wait: not needed');
  } else {
    await fenceAndDrain(mappings, options.functionName, options.audit.id, clock, log, { fence: '2/6', drain: '3/6' });
  }
  // Read again: an invocation that ended during the wait may have committed.
  steps = await plan();
  log(`4/6 reset the ledger (reset ${options.audit.id})`);
  await applyReset(ledger, steps, options.audit, (step) =>
    log(
      `    ${step.topic}-${step.partition}: ${step.alreadyApplied ? 'already reset' : `generation ${step.toGeneration} from offset ${step.nextOffset}`}`,
    ),
  );
  const source = created ?? old!;
  let fresh = created;
  if (!fresh) {
    log(
      `5/6 restore the reserved concurrency of ${options.functionName}, create a mapping with group ${options.newGroupId} at ${new Date(options.timestamp).toISOString()}`,
    );
  } else {
    log(
      `5/6 restore the reserved concurrency of ${options.functionName}; mapping ${fresh.uuid} of group ${options.newGroupId} exists already`,
    );
  }
  await unfence(mappings, options.functionName, options.audit.id, log);
  fresh ??= await mappings.createCopy(source, { consumerGroupId: options.newGroupId, timestamp: options.timestamp });
  await wait(fresh.uuid, MappingState.enabled);
  if (old && options.deleteOld) {
    log(`6/6 delete the old mapping ${old.uuid}`);
    await mappings.delete(old.uuid);
  } else {
    log(`6/6 the old mapping ${old?.uuid ?? ''} stays disabled (delete it with --delete-old)`);
  }
  return steps;
}
