import {
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
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
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../lib/ops/cli.ts';
import { createKafkaAdmin, type KafkaAdmin } from '../../lib/kafka/kafka-admin.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { LambdaMappings } from '../../lib/aws/lambda-mappings.ts';
import { replayInPlace } from '../../lib/ops/replay.ts';
import { createTestLedgerTable, type LedgerTableForTest } from '../support/emulators.ts';
import { startTestKafka, type TestKafka } from '../support/test-kafka.ts';

/**
 * The replay procedures: Lambda's event source mapping API through aws-sdk-client-mock (no
 * emulator exists for it), the consumer group on a real Kafka broker (test/support/test-kafka.ts),
 * the ledger on DynamoDB Local.
 */
/** Partitions of the topic. */
const P = 4;
/** Records per partition: record i has CreateTime T0 + i minutes. */
const T0 = Date.UTC(2026, 10, 1);
const MINUTE = 60_000;

describe('replay: disable the mapping, reset the group and the ledger, enable', () => {
  const lambda = mockClient(LambdaClient);
  const topic = 'replay.orders';
  const functionName = 'orders-sink';
  let cluster: TestKafka;
  let kafka: KafkaAdmin;
  let ledgerTable: LedgerTableForTest;
  let ledger: LedgerAdmin;
  let state: string;
  let tags: Record<string, string>;
  let reserved: number | undefined;
  /** A virtual clock for the replay's wait: sleeping moves it on. */
  let now = Date.UTC(2026, 10, 26);
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const mapping = (): EventSourceMappingConfiguration => ({
    UUID: 'mapping-1',
    State: state,
    Topics: [topic],
    FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    EventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/abc-1',
    AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-sink-group' },
    BatchSize: 500,
  });

  beforeAll(async () => {
    cluster = await startTestKafka({ topics: [{ name: topic, partitions: P }] });
    for (let partition = 0; partition < P; partition++) {
      await cluster.produce(
        topic,
        partition,
        Array.from({ length: 20 }, (_, i) => ({ value: `v${i}`, timestamp: T0 + i * MINUTE })),
      );
    }
    kafka = createKafkaAdmin({ bootstrapServers: [cluster.bootstrapServers], timeoutMs: 5_000 });
    ledgerTable = await createTestLedgerTable('replay');
    ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    // The sink has delivered up to offset 14 everywhere.
    for (let partition = 0; partition < P; partition++) {
      await ledger.reset(topic, partition, undefined, {
        id: `setup-${partition}`,
        at: 'x',
        by: 'test',
        reason: 'setup',
        fromGeneration: 0,
        fromOffset: -1,
        toGeneration: 0,
        toOffset: 14,
      });
    }
    await kafka.setGroupOffsets(
      'orders-sink-group',
      topic,
      [0, 1, 2, 3].map((partition) => ({ partition, offset: 15 })),
    );
  }, 180_000);

  afterAll(async () => {
    lambda.restore();
    await kafka?.close();
    await cluster?.stop();
  });

  beforeEach(() => {
    lambda.reset();
    state = 'Enabled';
    lambda.on(ListEventSourceMappingsCommand).callsFake(() => ({ EventSourceMappings: [mapping()] }));
    // The mapping passes through Disabling and Enabling as Lambda's does.
    let polls = 0;
    lambda.on(GetEventSourceMappingCommand).callsFake(() => {
      if (state === 'Disabling' && ++polls > 2) state = 'Disabled';
      if (state === 'Enabling' && ++polls > 2) state = 'Enabled';
      return mapping();
    });
    lambda.on(UpdateEventSourceMappingCommand).callsFake((input: { Enabled: boolean }) => {
      polls = 0;
      state = input.Enabled ? 'Enabling' : 'Disabling';
      return mapping();
    });
    // The function, its reserved concurrency and tags (the replay fences it).
    tags = {};
    reserved = undefined;
    lambda.on(GetFunctionCommand).callsFake(() => ({
      Configuration: {
        FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
        Timeout: 30,
        Role: 'arn:aws:iam::123456789012:role/orders-sink',
      },
      ...(reserved === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: reserved } }),
    }));
    lambda.on(PutFunctionConcurrencyCommand).callsFake((input: { ReservedConcurrentExecutions: number }) => {
      reserved = input.ReservedConcurrentExecutions;
      return { ReservedConcurrentExecutions: reserved };
    });
    lambda.on(DeleteFunctionConcurrencyCommand).callsFake(() => void (reserved = undefined));
    lambda.on(ListTagsCommand).callsFake(() => ({ Tags: { ...tags } }));
    lambda.on(TagResourceCommand).callsFake((input: { Tags: Record<string, string> }) => void Object.assign(tags, input.Tags));
    lambda.on(UntagResourceCommand).callsFake((input: { TagKeys: string[] }) => {
      for (const key of input.TagKeys) delete tags[key];
    });
  });

  const log: string[] = [];
  const deps = () => ({
    mappings: new LambdaMappings({ client: new LambdaClient({ region: 'us-east-1' }), sleep: async () => undefined }),
    kafka,
    ledger,
    log: (line: string) => void log.push(line),
    clock,
  });
  const audit = { id: 'replay-42', at: '2026-11-26T12:00:00.000Z', by: 'bob', reason: 'reprocess after a schema fix' };

  it('runs every step in order and leaves the mapping enabled', async () => {
    const steps = await replayInPlace(deps(), { functionName, topic, partitions: [1, 2], target: { kind: 'offset', offset: 5 }, audit });
    expect(steps.map((s) => [s.partition, s.nextOffset, s.toGeneration, s.direction])).toEqual([
      [1, 5, 1, 'replay'],
      [2, 5, 1, 'replay'],
    ]);
    const updates = lambda.commandCalls(UpdateEventSourceMappingCommand).map((call) => call.args[0].input.Enabled);
    expect(updates).toEqual([false, true]);
    expect(state).toBe('Enabled');
    expect(await kafka.fetchGroupOffsets('orders-sink-group', topic)).toEqual([
      { partition: 0, offset: 15 },
      { partition: 1, offset: 5 },
      { partition: 2, offset: 5 },
      { partition: 3, offset: 15 },
    ]);
    expect(await ledger.get(topic, 1)).toMatchObject({
      generation: 1,
      committedOffset: 4,
      resets: [{}, { id: 'replay-42', by: 'bob', fromOffset: 14, toOffset: 4 }],
    });
    expect(await ledger.get(topic, 0)).toMatchObject({ generation: 0, committedOffset: 14 });
    expect(log.some((line) => line.startsWith('1/6 disable'))).toBe(true);
    expect(reserved).toBeUndefined();
    expect(tags).toEqual({});
  });

  it('resumes: the same replay run again resets nothing twice', async () => {
    await replayInPlace(deps(), { functionName, topic, partitions: [1, 2], target: { kind: 'offset', offset: 5 }, audit });
    expect((await ledger.get(topic, 1))!.resets).toHaveLength(2);
    expect((await ledger.get(topic, 1))!.generation).toBe(1);
  });

  it('stops, leaving the ledger alone, when the mapping does not get disabled', async () => {
    lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ ...mapping(), State: 'Disabling' }));
    await expect(
      replayInPlace(deps(), {
        functionName,
        topic,
        partitions: [3],
        target: { kind: 'earliest' },
        audit: { ...audit, id: 'stuck' },
        waitTimeoutMs: 0,
      }),
    ).rejects.toThrow(/still Disabling .* run the command again to resume/);
    expect((await ledger.get(topic, 3))!.generation).toBe(0);
  });

  it('replays to a timestamp: the group and the ledger land on the first record at or after it', async () => {
    // Record i is at T0 + i minutes: 07:30 falls between offsets 7 and 8, so the replay starts at 8.
    const steps = await replayInPlace(deps(), {
      functionName,
      topic,
      partitions: [3],
      target: { kind: 'timestamp', timestamp: T0 + 7.5 * MINUTE },
      audit: { ...audit, id: 'replay-at-time' },
    });
    expect(steps.map((s) => [s.partition, s.nextOffset, s.toGeneration, s.direction])).toEqual([[3, 8, 1, 'replay']]);
    expect((await kafka.fetchGroupOffsets('orders-sink-group', topic)).find((p) => p.partition === 3)).toEqual({ partition: 3, offset: 8 });
    expect(await ledger.get(topic, 3)).toMatchObject({ generation: 1, committedOffset: 7 });
    // Exactly at a record's timestamp: that record.
    const [exact] = await replayInPlace(deps(), {
      functionName,
      topic,
      partitions: [3],
      target: { kind: 'timestamp', timestamp: T0 + 3 * MINUTE },
      audit: { ...audit, id: 'replay-at-record' },
    });
    expect(exact).toMatchObject({ partition: 3, nextOffset: 3, toGeneration: 2 });
    expect((await kafka.fetchGroupOffsets('orders-sink-group', topic)).find((p) => p.partition === 3)).toEqual({ partition: 3, offset: 3 });
  });

  it('the CLI: reset refuses while the mapping is enabled; replay with a new group creates a copy at the timestamp', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const env = {
      LEDGER_TABLE: ledgerTable.tableName,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: ledgerTable.endpoint,
      AWS_ENDPOINT_URL_IAM: 'http://127.0.0.1:9',
      SINK_BUCKET: 'unused-bucket',
    };
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, ...clock };
    const refused = await runCli(
      ['reset', '--topic', topic, '--partition', '0', '--to-offset', '3', '--reason', 'r', '--function', functionName],
      env,
      io,
    );
    expect(refused).toBe(1);
    expect(stderr).toContain('mapping mapping-1 is Enabled');

    let copy: EventSourceMappingConfiguration | undefined;
    lambda.on(CreateEventSourceMappingCommand).callsFake((input) => (copy = { ...input, UUID: 'mapping-2', State: 'Creating' }));
    lambda.on(GetEventSourceMappingCommand, { UUID: 'mapping-2' }).callsFake(() => ({ ...copy, State: 'Enabled' }));
    lambda.on(DeleteEventSourceMappingCommand).resolves({});
    const argv = [
      'replay',
      '--topic',
      topic,
      '--function',
      functionName,
      '--bootstrap-servers',
      cluster.bootstrapServers,
      '--new-group',
      'orders-sink-replay-1',
      '--to-timestamp',
      '2026-11-01T00:10:00Z',
      '--reason',
      'rebuild',
      '--delete-old',
      '--id',
      'new-group-1',
      '--poll-seconds',
      '0',
    ];
    // The mapping reads an MSK cluster with IAM auth: the CLI checks the function's role may use
    // the new group, and says so when it cannot read the role's policies (here: no IAM client).
    const unchecked = await runCli(argv, env, io);
    expect(unchecked).toBe(1);
    // (No IAM client package installed yet; with one, AWS_ENDPOINT_URL_IAM keeps it off AWS and it fails to connect.)
    expect(stderr).toMatch(/cannot read the policies of role arn:aws:iam::123456789012:role\/orders-sink: .*\. The cluster uses IAM auth/);
    expect(lambda.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(0);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
    const code = await runCli([...argv, '--force'], env, io);
    expect(stderr).toContain('WARNING: --force: going on without knowing that the function may use group orders-sink-replay-1');
    expect(stderr).toContain('create a mapping with group orders-sink-replay-1');
    expect(stderr).toContain('2/6 fence function orders-sink');
    expect(code).toBe(0);
    const created = lambda.commandCalls(CreateEventSourceMappingCommand)[0]!.args[0].input;
    expect(created).toMatchObject({
      Topics: [topic],
      StartingPosition: 'AT_TIMESTAMP',
      BatchSize: 500,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-sink-replay-1' },
    });
    expect(created.StartingPositionTimestamp).toEqual(new Date('2026-11-01T00:10:00Z'));
    expect(lambda.commandCalls(DeleteEventSourceMappingCommand)[0]!.args[0].input).toEqual({ UUID: 'mapping-1' });
    // The ledger starts the new generation where the new group starts: the cluster's offset for
    // the timestamp, offset 10 (record 10 is at 00:10) in every partition.
    for (let partition = 0; partition < P; partition++) {
      expect(await ledger.get(topic, partition), `partition ${partition}`).toMatchObject({ committedOffset: 9 });
    }
    expect(await ledger.get(topic, 0)).toMatchObject({ generation: 1 });
    vi.unstubAllEnvs();
  });
});
