import {
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  DeleteFunctionConcurrencyCommand,
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  GetFunctionCommand,
  type LambdaClient,
  ListTagsCommand,
  paginateListEventSourceMappings,
  PutFunctionConcurrencyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { OperationError } from '../core/errors.ts';

/** What the operations tools need to know of an event source mapping. */
export interface MappingInfo {
  readonly uuid: string;
  readonly state: string;
  readonly topics: readonly string[];
  readonly consumerGroupId: string | undefined;
  readonly functionArn: string | undefined;
  /** When the mapping was last updated or changed state (Lambda's `LastModified`). */
  readonly lastModified: Date | undefined;
  /** The whole configuration, to copy it into a new mapping. */
  readonly raw: EventSourceMappingConfiguration;
}

/** Steady states of a mapping (others: Creating, Enabling, Disabling, Updating, Deleting). */
export const MappingState = { enabled: 'Enabled', disabled: 'Disabled' } as const;
export type MappingState = (typeof MappingState)[keyof typeof MappingState];

/** What the replay procedures need to know of the sink function. */
export interface FunctionInfo {
  readonly arn: string;
  /** The function timeout: the longest an invocation can run. */
  readonly timeoutSeconds: number;
  /** The reserved concurrency; undefined: none (the function draws on the account's pool). */
  readonly reservedConcurrency: number | undefined;
  /** The execution role's ARN. */
  readonly role: string | undefined;
}

/**
 * The tag on the function that makes a replay's fence durable: which replay set the reserved
 * concurrency to 0, what it was before (`none` or a number), and when the fence took effect.
 * A replay that stops after fencing finds it when run again (same `--id`), so the original value
 * is never lost; the tag is removed once the value is restored.
 */
export const FENCE_TAG = 'msk-s3-sink:replay-fence';

/** The content of the fence tag. */
export interface FenceRecord {
  /** The replay's id (`--id`). */
  readonly id: string;
  /** The reserved concurrency before the fence; undefined: none. */
  readonly reservedConcurrency: number | undefined;
  /** Epoch ms at which reserved concurrency 0 was in place; absent until it is. */
  readonly fencedAt?: number;
}

/** Characters Lambda allows in a tag value (letters, digits, spaces and `_ . : / = + - @`), no space: an id fits the fence tag. */
const TAG_SAFE_ID = /^[\p{L}\p{N}_.:/=+\-@]{1,160}$/u;

/** Checks that a replay id can be kept in the fence tag; an `OperationError` otherwise. */
export function checkReplayId(id: string): void {
  if (!TAG_SAFE_ID.test(id)) {
    throw new OperationError(
      `replay id ${JSON.stringify(id)} cannot be kept in the function's ${FENCE_TAG} tag: use at most 160 letters, digits and _ . : / = + - @`,
    );
  }
}

function formatFence(record: FenceRecord): string {
  return `id=${record.id} reserved=${record.reservedConcurrency ?? 'none'}${record.fencedAt === undefined ? '' : ` fenced=${new Date(record.fencedAt).toISOString()}`}`;
}

function parseFence(value: string | undefined): FenceRecord | undefined {
  if (value === undefined) return undefined;
  const fields = new Map(value.split(' ').map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]));
  const id = fields.get('id');
  const reserved = fields.get('reserved');
  const fenced = fields.get('fenced');
  if (
    !id ||
    reserved === undefined ||
    !(reserved === 'none' || /^\d+$/.test(reserved)) ||
    (fenced !== undefined && !Number.isFinite(Date.parse(fenced)))
  ) {
    throw new OperationError(
      `the function's ${FENCE_TAG} tag is not one this tool wrote (${JSON.stringify(value)}): restore the reserved concurrency by hand and remove the tag`,
    );
  }
  return {
    id,
    reservedConcurrency: reserved === 'none' ? undefined : Number(reserved),
    ...(fenced === undefined ? {} : { fencedAt: Date.parse(fenced) }),
  };
}

/** Lambda's event source mappings, as the replay procedures drive them. */
export class LambdaMappings {
  readonly #client: LambdaClient;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: { readonly client: LambdaClient; readonly sleep?: (ms: number) => Promise<void> }) {
    this.#client = options.client;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The function's Kafka mappings that read `topic`. */
  async find(functionName: string, topic: string): Promise<MappingInfo[]> {
    const found: MappingInfo[] = [];
    for await (const page of paginateListEventSourceMappings({ client: this.#client }, { FunctionName: functionName })) {
      for (const mapping of page.EventSourceMappings ?? []) {
        const info = toInfo(mapping);
        if (info.topics.includes(topic)) found.push(info);
      }
    }
    return found;
  }

  /** The one mapping of `functionName` that reads `topic`; an error when there is none or several. */
  async findOne(functionName: string, topic: string): Promise<MappingInfo> {
    const found = await this.find(functionName, topic);
    if (found.length !== 1) {
      throw new OperationError(
        found.length === 0
          ? `No event source mapping of function ${functionName} reads topic ${topic}`
          : `${found.length} event source mappings of function ${functionName} read topic ${topic} (${found.map((m) => m.uuid).join(', ')}): name one with --mapping`,
      );
    }
    return found[0]!;
  }

  async get(uuid: string): Promise<MappingInfo> {
    return toInfo(await this.#client.send(new GetEventSourceMappingCommand({ UUID: uuid })));
  }

  /** Enables or disables the mapping (a no-op when it is already so). */
  async setEnabled(uuid: string, enabled: boolean): Promise<void> {
    const current = await this.get(uuid);
    const steady = enabled ? MappingState.enabled : MappingState.disabled;
    if (current.state === steady || current.state === (enabled ? 'Enabling' : 'Disabling')) return;
    await this.#client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }));
  }

  /** Polls until the mapping reaches `state`, or fails after `timeoutMs`. */
  async waitFor(
    uuid: string,
    state: MappingState,
    options: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly onPoll?: (state: string) => void } = {},
  ): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
    for (;;) {
      const current = await this.get(uuid);
      options.onPoll?.(current.state);
      if (current.state === state) return;
      if (Date.now() > deadline) {
        throw new OperationError(`Mapping ${uuid} is still ${current.state} after waiting for ${state}; run the command again to resume`);
      }
      await this.#sleep(options.intervalMs ?? 5_000);
    }
  }

  /**
   * Creates a copy of `source` reading from a new consumer group, starting at `timestamp`
   * (epoch ms). The copy keeps the source's batching, pollers, destinations and auth.
   */
  async createCopy(source: MappingInfo, options: { readonly consumerGroupId: string; readonly timestamp: number }): Promise<MappingInfo> {
    const raw = source.raw;
    const group = { ConsumerGroupId: options.consumerGroupId };
    const created = await this.#client.send(
      new CreateEventSourceMappingCommand({
        FunctionName: raw.FunctionArn,
        EventSourceArn: raw.EventSourceArn,
        SelfManagedEventSource: raw.SelfManagedEventSource,
        SourceAccessConfigurations: raw.SourceAccessConfigurations,
        Topics: raw.Topics,
        BatchSize: raw.BatchSize,
        MaximumBatchingWindowInSeconds: raw.MaximumBatchingWindowInSeconds,
        FunctionResponseTypes: raw.FunctionResponseTypes,
        DestinationConfig: raw.DestinationConfig,
        ProvisionedPollerConfig: raw.ProvisionedPollerConfig,
        BisectBatchOnFunctionError: raw.BisectBatchOnFunctionError,
        MaximumRetryAttempts: raw.MaximumRetryAttempts,
        MaximumRecordAgeInSeconds: raw.MaximumRecordAgeInSeconds,
        StartingPosition: 'AT_TIMESTAMP',
        StartingPositionTimestamp: new Date(options.timestamp),
        Enabled: true,
        ...(raw.EventSourceArn
          ? { AmazonManagedKafkaEventSourceConfig: { ...raw.AmazonManagedKafkaEventSourceConfig, ...group } }
          : { SelfManagedKafkaEventSourceConfig: { ...raw.SelfManagedKafkaEventSourceConfig, ...group } }),
      }),
    );
    return toInfo(created);
  }

  async delete(uuid: string): Promise<void> {
    await this.#client.send(new DeleteEventSourceMappingCommand({ UUID: uuid }));
  }

  /** The function's ARN, timeout, reserved concurrency and role (`GetFunction`). */
  async getFunction(functionName: string): Promise<FunctionInfo> {
    const found = await this.#client.send(new GetFunctionCommand({ FunctionName: functionName }));
    const configuration = found.Configuration ?? {};
    if (!configuration.FunctionArn) throw new OperationError(`Lambda returned no ARN for function ${functionName}`);
    return {
      arn: configuration.FunctionArn,
      // Lambda's default timeout is 3 s; it is always set on a real function.
      timeoutSeconds: configuration.Timeout ?? 3,
      reservedConcurrency: found.Concurrency?.ReservedConcurrentExecutions,
      role: configuration.Role,
    };
  }

  /** The replay fence recorded on the function (`FENCE_TAG`), if any. */
  async fenceRecord(functionArn: string): Promise<FenceRecord | undefined> {
    const { Tags } = await this.#client.send(new ListTagsCommand({ Resource: functionArn }));
    return parseFence(Tags?.[FENCE_TAG]);
  }

  /**
   * Fences the function for replay `id`: reserved concurrency 0, so that no invocation can
   * start, recorded first in `FENCE_TAG` with the value it replaces. Resumable: a fence of the
   * same id keeps its original value (and its time, when concurrency is still 0); a fence of
   * another replay is an error naming it. `now` gives the time the fence took effect.
   */
  async fence(
    functionName: string,
    id: string,
    now: () => number,
  ): Promise<FenceRecord & { readonly fencedAt: number; readonly function: FunctionInfo }> {
    const fn = await this.getFunction(functionName);
    const existing = await this.fenceRecord(fn.arn);
    if (existing && existing.id !== id) throw fencedByOther(functionName, existing);
    // Written before anything changes: a run that dies after the next request keeps the value.
    const record = existing ?? { id, reservedConcurrency: fn.reservedConcurrency };
    if (!existing) await this.#tag(fn.arn, record);
    if (record.fencedAt !== undefined && fn.reservedConcurrency === 0) return { ...record, fencedAt: record.fencedAt, function: fn };
    await this.#client.send(new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: 0 }));
    const fenced = { ...record, fencedAt: now() };
    await this.#tag(fn.arn, fenced);
    return { ...fenced, function: fn };
  }

  /** Refuses when another replay than `id` holds the function's fence (nothing is changed). */
  async assertNotFencedByOther(functionName: string, id: string): Promise<void> {
    const fn = await this.getFunction(functionName);
    const existing = await this.fenceRecord(fn.arn);
    if (existing && existing.id !== id) throw fencedByOther(functionName, existing);
  }

  /**
   * Lifts replay `id`'s fence: restores the reserved concurrency recorded in `FENCE_TAG` exactly
   * (none: `DeleteFunctionConcurrency`), then removes the tag. Returns what was restored, or
   * `false` when there was no fence of that id (lifted already).
   */
  async unfence(functionName: string, id: string): Promise<{ readonly reservedConcurrency: number | undefined } | false> {
    const fn = await this.getFunction(functionName);
    const existing = await this.fenceRecord(fn.arn);
    if (!existing) return false;
    if (existing.id !== id) throw fencedByOther(functionName, existing);
    if (existing.reservedConcurrency === undefined) {
      await this.#client.send(new DeleteFunctionConcurrencyCommand({ FunctionName: functionName }));
    } else {
      await this.#client.send(
        new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: existing.reservedConcurrency }),
      );
    }
    await this.#client.send(new UntagResourceCommand({ Resource: fn.arn, TagKeys: [FENCE_TAG] }));
    return { reservedConcurrency: existing.reservedConcurrency };
  }

  async #tag(arn: string, record: FenceRecord): Promise<void> {
    await this.#client.send(new TagResourceCommand({ Resource: arn, Tags: { [FENCE_TAG]: formatFence(record) } }));
  }
}

function fencedByOther(functionName: string, record: FenceRecord): OperationError {
  return new OperationError(
    `function ${functionName} is fenced by replay ${record.id} (reserved concurrency 0; before it: ${record.reservedConcurrency ?? 'none'}, ` +
      `kept in its ${FENCE_TAG} tag): finish that replay first by running it again with --id ${record.id}`,
  );
}

function toInfo(mapping: EventSourceMappingConfiguration): MappingInfo {
  return {
    uuid: mapping.UUID ?? '',
    state: mapping.State ?? 'Unknown',
    topics: mapping.Topics ?? [],
    consumerGroupId:
      mapping.AmazonManagedKafkaEventSourceConfig?.ConsumerGroupId ??
      mapping.SelfManagedKafkaEventSourceConfig?.ConsumerGroupId ??
      // Lambda's default group id is the mapping's UUID.
      mapping.UUID,
    functionArn: mapping.FunctionArn,
    lastModified: mapping.LastModified,
    raw: mapping,
  };
}
