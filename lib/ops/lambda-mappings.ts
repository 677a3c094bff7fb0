import {
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  type LambdaClient,
  paginateListEventSourceMappings,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { OperationError } from './reset.ts';

/** What the operations tools need to know of an event source mapping. */
export interface MappingInfo {
  readonly uuid: string;
  readonly state: string;
  readonly topics: readonly string[];
  readonly consumerGroupId: string | undefined;
  readonly functionArn: string | undefined;
  /** The whole configuration, to copy it into a new mapping. */
  readonly raw: EventSourceMappingConfiguration;
}

/** Steady states of a mapping (others: Creating, Enabling, Disabling, Updating, Deleting). */
export const MappingState = { enabled: 'Enabled', disabled: 'Disabled' } as const;
export type MappingState = (typeof MappingState)[keyof typeof MappingState];

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
    raw: mapping,
  };
}
