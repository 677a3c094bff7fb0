import type { KafkaAdmin } from './kafka-admin.ts';
import type { LedgerAdminPort } from './ledger-admin.ts';
import { type LambdaMappings, MappingState } from './lambda-mappings.ts';
import { applyReset, OperationError, planReset, type ResetStep } from './reset.ts';

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
 * mapping and wait until it is disabled, set its consumer group's offsets on the cluster, reset
 * the ledger (a new generation), enable the mapping. Every step checks whether it is already
 * done, so running the same command again (same `audit.id`) resumes after a failure.
 */
export async function replayInPlace(
  deps: { readonly mappings: LambdaMappings; readonly kafka: KafkaAdmin; readonly ledger: LedgerAdminPort; readonly log: StepLog },
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
  const mapping = options.mappingUuid
    ? await mappings.get(options.mappingUuid)
    : await mappings.findOne(options.functionName, options.topic);
  const group = mapping.consumerGroupId!;
  const nextOffsets = await resolveTarget(options.target, options.topic, options.partitions, kafka);
  const steps = planReset({ id: options.audit.id, topic: options.topic, entries: await ledger.list({ topic: options.topic }), nextOffsets });
  if (options.dryRun) return steps;

  log(`1/4 disable mapping ${mapping.uuid} (${mapping.state})`);
  await mappings.setEnabled(mapping.uuid, false);
  await mappings.waitFor(mapping.uuid, MappingState.disabled, {
    timeoutMs: options.waitTimeoutMs,
    intervalMs: options.pollIntervalMs,
    onPoll: (state) => log(`    mapping ${mapping.uuid}: ${state}`),
  });
  log(`2/4 set consumer group ${group} on ${options.topic}: ${[...nextOffsets].map(([p, o]) => `${p}→${o}`).join(', ')}`);
  await kafka.setGroupOffsets(group, options.topic, [...nextOffsets].map(([partition, offset]) => ({ partition, offset })));
  log(`3/4 reset the ledger (reset ${options.audit.id})`);
  await applyReset(ledger, steps, options.audit, (step) =>
    log(`    ${step.topic}-${step.partition}: ${step.alreadyApplied ? 'already reset' : `generation ${step.toGeneration} from offset ${step.nextOffset}`}`),
  );
  log(`4/4 enable mapping ${mapping.uuid}`);
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
 * mapping retired. The ledger is reset to the offsets the cluster gives for that timestamp, so
 * that the new group's first batches start exactly where the new generation does. Resumable:
 * a mapping of the new group that already exists is reused.
 */
export async function replayWithNewGroup(
  deps: { readonly mappings: LambdaMappings; readonly kafka: KafkaAdmin; readonly ledger: LedgerAdminPort; readonly log: StepLog },
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
  const existing = await mappings.find(options.functionName, options.topic);
  const created = existing.find((m) => m.consumerGroupId === options.newGroupId);
  const old = options.mappingUuid
    ? await mappings.get(options.mappingUuid)
    : existing.filter((m) => m !== created).length === 1
      ? existing.find((m) => m !== created)!
      : undefined;
  if (!old && !created) await mappings.findOne(options.functionName, options.topic); // throws the precise error
  const nextOffsets = await resolveTarget({ kind: 'timestamp', timestamp: options.timestamp }, options.topic, undefined, kafka);
  const steps = planReset({ id: options.audit.id, topic: options.topic, entries: await ledger.list({ topic: options.topic }), nextOffsets });
  if (options.dryRun) return steps;
  const wait = (uuid: string, state: MappingState) =>
    mappings.waitFor(uuid, state, {
      timeoutMs: options.waitTimeoutMs,
      intervalMs: options.pollIntervalMs,
      onPoll: (current) => log(`    mapping ${uuid}: ${current}`),
    });

  if (old) {
    log(`1/4 disable the old mapping ${old.uuid} (group ${old.consumerGroupId})`);
    await mappings.setEnabled(old.uuid, false);
    await wait(old.uuid, MappingState.disabled);
  } else {
    log('1/4 the old mapping is gone already');
  }
  log(`2/4 reset the ledger (reset ${options.audit.id})`);
  await applyReset(ledger, steps, options.audit, (step) =>
    log(`    ${step.topic}-${step.partition}: ${step.alreadyApplied ? 'already reset' : `generation ${step.toGeneration} from offset ${step.nextOffset}`}`),
  );
  const source = created ?? old!;
  let fresh = created;
  if (!fresh) {
    log(`3/4 create a mapping with group ${options.newGroupId} at ${new Date(options.timestamp).toISOString()}`);
    fresh = await mappings.createCopy(source, { consumerGroupId: options.newGroupId, timestamp: options.timestamp });
  } else {
    log(`3/4 mapping ${fresh.uuid} of group ${options.newGroupId} exists already`);
  }
  await wait(fresh.uuid, MappingState.enabled);
  if (old && options.deleteOld) {
    log(`4/4 delete the old mapping ${old.uuid}`);
    await mappings.delete(old.uuid);
  } else {
    log(`4/4 the old mapping ${old?.uuid ?? ''} stays disabled (delete it with --delete-old)`);
  }
  return steps;
}
