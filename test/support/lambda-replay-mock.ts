/**
 * The mocked Lambda API of the replay-with-an-invocation-in-flight tests
 * (test/integration/ops-replay-in-flight.test.ts, test/integration/ops-reset-in-flight.test.ts):
 * one event source mapping and its function, with the state the tests set and check (no emulator
 * exists for the Lambda API).
 */
import {
  DeleteFunctionConcurrencyCommand,
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  GetFunctionCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ListTagsCommand,
  PutFunctionConcurrencyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach } from 'vitest';

/** The names of the mocked mapping and function, and the function's timeout. */
export const IN_FLIGHT = {
  topic: 'inflight.orders',
  functionName: 'orders-sink',
  functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-sink',
  group: 'orders-sink-group',
  TIMEOUT_SECONDS: 60,
} as const;

/** The mocked Lambda API's state: tests set it before a run and check it after. */
export interface MockedLambdaState {
  mappingState: string;
  mappingChanged: number;
  reserved: number | undefined;
  tags: Record<string, string>;
  /** The changes made, in order (`disable`, `concurrency 0`, `tag ...`, ...). */
  calls: string[];
}

/**
 * Mocks the Lambda API for the enclosing `describe`: the state is reset before each test (mapping
 * Enabled, no reserved concurrency, no tags, no calls) and the mock restored after all.
 */
export function mockLambdaForReplay(): { lambda: AwsClientStub<LambdaClient>; api: MockedLambdaState } {
  const lambda = mockClient(LambdaClient);
  const { topic, functionName, functionArn, group, TIMEOUT_SECONDS } = IN_FLIGHT;
  const api: MockedLambdaState = { mappingState: 'Enabled', mappingChanged: 0, reserved: undefined, tags: {}, calls: [] };

  const mapping = (): EventSourceMappingConfiguration => ({
    UUID: 'mapping-1',
    State: api.mappingState,
    LastModified: new Date(api.mappingChanged),
    Topics: [topic],
    FunctionArn: functionArn,
    EventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/abc-1',
    AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
  });

  beforeEach(() => {
    lambda.reset();
    api.mappingState = 'Enabled';
    api.mappingChanged = Date.UTC(2026, 11, 1);
    api.reserved = undefined;
    api.tags = {};
    api.calls = [];
    lambda.on(ListEventSourceMappingsCommand).callsFake(() => ({ EventSourceMappings: [mapping()] }));
    lambda.on(GetEventSourceMappingCommand).callsFake(() => {
      if (api.mappingState === 'Disabling') api.mappingState = 'Disabled';
      else if (api.mappingState === 'Enabling') api.mappingState = 'Enabled';
      return mapping();
    });
    lambda.on(UpdateEventSourceMappingCommand).callsFake((input: { Enabled: boolean }) => {
      api.calls.push(input.Enabled ? 'enable' : 'disable');
      api.mappingState = input.Enabled ? 'Enabling' : 'Disabling';
      return mapping();
    });
    lambda.on(GetFunctionCommand).callsFake(() => ({
      Configuration: {
        FunctionName: functionName,
        FunctionArn: functionArn,
        Timeout: TIMEOUT_SECONDS,
        Role: 'arn:aws:iam::123456789012:role/orders-sink',
      },
      ...(api.reserved === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: api.reserved } }),
    }));
    lambda.on(PutFunctionConcurrencyCommand).callsFake((input: { ReservedConcurrentExecutions: number }) => {
      api.calls.push(`concurrency ${input.ReservedConcurrentExecutions}`);
      api.reserved = input.ReservedConcurrentExecutions;
      return { ReservedConcurrentExecutions: api.reserved };
    });
    lambda.on(DeleteFunctionConcurrencyCommand).callsFake(() => {
      api.calls.push('concurrency none');
      api.reserved = undefined;
      return {};
    });
    lambda.on(ListTagsCommand).callsFake(() => ({ Tags: { ...api.tags } }));
    lambda.on(TagResourceCommand).callsFake((input: { Tags: Record<string, string> }) => {
      api.calls.push(`tag ${Object.values(input.Tags).join(' ')}`);
      Object.assign(api.tags, input.Tags);
      return {};
    });
    lambda.on(UntagResourceCommand).callsFake((input: { TagKeys: string[] }) => {
      api.calls.push('untag');
      for (const key of input.TagKeys) delete api.tags[key];
      return {};
    });
  });

  afterAll(() => {
    lambda.restore();
  });

  return { lambda, api };
}
