import { CreateEventSourceMappingCommand, GetEventSourceMappingCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config/config.ts';
import { createKafkaAdmin, type KafkaAdmin } from '../../lib/kafka/kafka-admin.ts';
import { LambdaMappings } from '../../lib/aws/lambda-mappings.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { newGroupAccessCheck, replayInPlace, replayWithNewGroup } from '../../lib/ops/replay.ts';
import { groupArn } from '../../lib/aws/iam-policy.ts';
import { type OffsetLedger, systemClock } from '../../lib/core/ports.ts';
import { createSink } from '../../lib/sink/sink.ts';
import {
  createEmulatorSink,
  createTestLedgerTable,
  type LedgerTableForTest,
  type S3ForTest,
  startS3ForTest,
} from '../support/emulators.ts';
import { timedLog } from '../../testkit/kafka/generate.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';
import { startTestKafka, type TestKafka } from '../support/test-kafka.ts';
import { IN_FLIGHT, mockLambdaForReplay } from '../support/lambda-replay-mock.ts';

/**
 * Issue 15, item 1: `Disabled` only means the mapping stopped polling. An invocation already
 * running can read the ledger after the reset (its partition's turn comes late) and deliver an
 * old batch into the new generation, so that the replay batch is then dropped as duplicates.
 * The replay must fence the function (reserved concurrency 0), wait out its timeout, and only
 * then reset; and restore the reserved concurrency exactly as it was.
 *
 * The Lambda API is mocked (no emulator exists for it); the invocation in flight is the real
 * sink on the emulators (DynamoDB Local, the project's S3 emulator), held before its ledger read;
 * the consumer group is on a real Kafka broker (test/support/test-kafka.ts). The bare `reset`:
 * ops-reset-in-flight.test.ts; the mocked Lambda API: test/support/lambda-replay-mock.ts.
 */
describe('replay with an invocation in flight', () => {
  const { lambda, api } = mockLambdaForReplay();
  const { topic, functionName, group, TIMEOUT_SECONDS } = IN_FLIGHT;
  let cluster: TestKafka;
  let kafka: KafkaAdmin;
  let s3: S3ForTest;

  beforeAll(async () => {
    [cluster, s3] = await Promise.all([startTestKafka({ topics: [{ name: topic, partitions: 4 }] }), startS3ForTest()]);
    await cluster.produce(
      topic,
      0,
      Array.from({ length: 200 }, (_, i) => ({ value: `v${i}` })),
    );
    for (const partition of [1, 2])
      await cluster.produce(
        topic,
        partition,
        Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })),
      );
    kafka = createKafkaAdmin({ bootstrapServers: [cluster.bootstrapServers], timeoutMs: 5_000 });
  }, 180_000);

  afterAll(async () => {
    await kafka?.close();
    await cluster?.stop();
    await s3?.stop();
  });

  /** A virtual clock: sleeping moves it on, and lets `onSleep` run what happens meanwhile. */
  const virtualClock = (onSleep: (ms: number) => Promise<void>) => {
    let now = Date.UTC(2026, 11, 3, 9);
    const slept: number[] = [];
    return {
      slept,
      clock: {
        now: () => now,
        sleep: async (ms: number) => {
          slept.push(ms);
          await onSleep(ms);
          now += ms;
        },
      },
    };
  };

  const mappings = () => new LambdaMappings({ client: new LambdaClient({ region: 'us-east-1' }), sleep: async () => undefined });

  it("the issue's sequence: an invocation holding [150..199] reads the ledger late; records 50–149 are still delivered once", async () => {
    const ledgerTable: LedgerTableForTest = await createTestLedgerTable('inflight');
    const ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    const log = timedLog(topic, 0, 200, Date.UTC(2026, 11, 1), 1000);

    // 1. generation 0 committed to 149.
    const sink = createEmulatorSink(s3, ledgerTable);
    for (let start = 0; start < 150; start += 50)
      await sink.handle(toKafkaEvent([{ topic, partition: 0, records: log.slice(start, start + 50) }]));
    expect(await ledger.get(topic, 0)).toMatchObject({ generation: 0, committedOffset: 149 });

    // An invocation holding [150..199] is in flight; its partition reads the ledger only when
    // released (a partition past SINK_MAX_CONCURRENCY, a cold start).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inner = new DynamoDbOffsetLedger({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    const heldLedger: OffsetLedger = {
      read: async (t, p) => {
        await gate;
        return inner.read(t, p);
      },
      advance: (expected, next) => inner.advance(expected, next),
      declareNaming: (expected, declaration) => inner.declareNaming(expected, declaration),
    };
    const heldSink = createSink({
      config: loadConfig({ SINK_BUCKET: s3.bucket, LEDGER_TABLE: ledgerTable.tableName }),
      ports: { ledger: heldLedger, store: new S3ObjectStore({ client: s3.client, bucket: s3.bucket }), clock: systemClock },
      logger: silentLogger,
      metrics: silentMetrics,
    });
    const inFlight = heldSink.handle(toKafkaEvent([{ topic, partition: 0, records: log.slice(150, 200) }])).then(
      () => 'succeeded',
      (error: Error) => `failed: ${error.name}`,
    );

    // 2. The operator replays from 50. While the replay waits, the invocation goes on (it ends
    // within the function's timeout: that is what the wait is for).
    const { clock, slept } = virtualClock(async () => {
      release();
      await inFlight;
    });
    const steps: string[] = [];
    await replayInPlace(
      { mappings: mappings(), kafka, ledger, log: (line) => void steps.push(line), clock },
      {
        functionName,
        topic,
        partitions: [0],
        target: { kind: 'offset', offset: 50 },
        audit: { id: 'replay-inflight', at: '2026-12-03T09:00:00.000Z', by: 'ops', reason: 'reprocess' },
      },
    );
    // 3. On the old procedure the invocation reads the ledger only now: generation 1 at 49.
    release();
    await inFlight;

    // 4. The mapping, enabled again, delivers from the group's offset: [50..199].
    const [position] = (await kafka.fetchGroupOffsets(group, topic)).filter((p) => p.partition === 0);
    expect(position!.offset).toBe(50);
    const replaySink = createEmulatorSink(s3, ledgerTable);
    for (let start = position!.offset!; start < 200; start += 75) {
      await replaySink.handle(toKafkaEvent([{ topic, partition: 0, records: log.slice(start, Math.min(start + 75, 200)) }]));
    }

    // Every record from 50 on is in generation 1, exactly once.
    const delivered = (await readDelivered(s3.client, s3.bucket, `topics/${topic}/`)).filter((line) => line.line['partition'] === 0);
    const result = check(log.slice(50), delivered, { generation: 1 });
    expect(result.lost).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
    expect(await ledger.get(topic, 0)).toMatchObject({ generation: 1, committedOffset: 199 });

    // The function was fenced before the ledger reset and waited out its timeout; the reserved
    // concurrency (none) is restored and the tag that kept it removed.
    expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1000);
    expect(api.calls).toEqual([
      'disable',
      'tag id=replay-inflight reserved=none',
      'concurrency 0',
      expect.stringMatching(/^tag id=replay-inflight reserved=none fenced=2026-12-03T09:00:00.000Z$/),
      'concurrency none',
      'untag',
      'enable',
    ]);
    expect(api.reserved).toBeUndefined();
    expect(api.tags).toEqual({});
    // What the operator reads (the README's "Why a replay fences the function" shows the same).
    expect(steps).toEqual([
      '1/6 disable mapping mapping-1 (Enabled)',
      '    mapping mapping-1: Disabled',
      '2/6 fence function orders-sink: reserved concurrency 0, so that no invocation starts',
      "    reserved concurrency before the replay: none (kept in the function's msk-s3-sink:replay-fence tag until it is restored)",
      '3/6 wait out the function timeout (60 s): an invocation that started before the fence can run until 2026-12-03T09:01:10.000Z (70 s from now)',
      `4/6 set consumer group ${group} on ${topic}: 0→50`,
      '5/6 reset the ledger (reset replay-inflight)',
      `    ${topic}-0: generation 1 from offset 50`,
      '6/6 restore the reserved concurrency of orders-sink, enable mapping mapping-1',
      '    reserved concurrency of orders-sink restored to none',
      '    mapping mapping-1: Enabled',
    ]);
  });

  it('a resumed replay restores the reserved concurrency that was there before the first run', async () => {
    const ledgerTable = await createTestLedgerTable('inflight-resume');
    const ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    await ledger.reset(topic, 1, undefined, {
      id: 'setup',
      at: 'x',
      by: 'test',
      reason: 'setup',
      fromGeneration: 0,
      fromOffset: -1,
      toGeneration: 0,
      toOffset: 99,
    });
    api.reserved = 7;
    const audit = { id: 'replay-resume', at: '2026-12-03T09:00:00.000Z', by: 'ops', reason: 'reprocess' };
    const failing: KafkaAdmin = Object.assign(Object.create(kafka) as KafkaAdmin, {
      setGroupOffsets: async () => {
        throw new Error('coordinator not available');
      },
    });
    const { clock } = virtualClock(async () => undefined);
    const run = (admin: KafkaAdmin) =>
      replayInPlace(
        { mappings: mappings(), kafka: admin, ledger, log: () => undefined, clock },
        { functionName, topic, partitions: [1], target: { kind: 'offset', offset: 10 }, audit },
      );
    await expect(run(failing)).rejects.toThrow('coordinator not available');
    // Stopped after the fence: concurrency 0, the original value on the function's tag.
    expect(api.reserved).toBe(0);
    expect(Object.values(api.tags)).toEqual([expect.stringMatching(/^id=replay-resume reserved=7 fenced=/)]);
    expect(await ledger.get(topic, 1)).toMatchObject({ generation: 0, committedOffset: 99 });

    await run(kafka);
    expect(api.reserved).toBe(7);
    expect(api.tags).toEqual({});
    expect(await ledger.get(topic, 1)).toMatchObject({ generation: 1, committedOffset: 9 });
  });

  it('refuses to start while another replay holds the fence', async () => {
    const ledgerTable = await createTestLedgerTable('inflight-other');
    const ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    api.tags = { 'msk-s3-sink:replay-fence': 'id=someone-else reserved=3 fenced=2026-12-03T08:00:00.000Z' };
    api.reserved = 0;
    const { clock } = virtualClock(async () => undefined);
    await expect(
      replayInPlace(
        { mappings: mappings(), kafka, ledger, log: () => undefined, clock },
        {
          functionName,
          topic,
          partitions: [2],
          target: { kind: 'offset', offset: 1 },
          audit: { id: 'mine', at: 'x', by: 'ops', reason: 'r' },
        },
      ),
    ).rejects.toThrow(/replay someone-else .*--id someone-else/);
    expect(api.calls).toEqual([]);
    expect(api.reserved).toBe(0);
    expect(await ledger.get(topic, 2)).toBeUndefined();
  });

  it('replay --new-group on an IAM cluster stops before changing anything when the role may not use the new group', async () => {
    const ledgerTable = await createTestLedgerTable('inflight-iam');
    const ledger = new LedgerAdmin({ client: ledgerTable.client, tableName: ledgerTable.tableName });
    await ledger.reset(topic, 0, undefined, {
      id: 'setup',
      at: 'x',
      by: 'test',
      reason: 'setup',
      fromGeneration: 0,
      fromOffset: -1,
      toGeneration: 0,
      toOffset: 99,
    });
    const oldGroupOnly = {
      policies: async () => [
        {
          name: 'orders-sink-kafka',
          document: {
            Statement: [
              {
                Effect: 'Allow',
                Action: 'kafka-cluster:*Group',
                Resource: groupArn('arn:aws:kafka:us-east-1:123456789012:cluster/c/abc-1', group),
              },
            ],
          },
        },
      ],
    };
    const warnings: string[] = [];
    const { clock } = virtualClock(async () => undefined);
    const run = (policies: typeof oldGroupOnly, force: boolean) =>
      replayWithNewGroup(
        {
          mappings: mappings(),
          kafka,
          ledger,
          log: () => undefined,
          clock,
          preflight: newGroupAccessCheck({
            mappings: mappings(),
            policies,
            functionName,
            newGroupId: 'orders-replay-2',
            force,
            warn: (line) => void warnings.push(line),
          }),
        },
        {
          functionName,
          topic,
          timestamp: Date.UTC(2026, 10, 1),
          newGroupId: 'orders-replay-2',
          deleteOld: false,
          audit: { id: 'iam-1', at: 'x', by: 'ops', reason: 'r' },
        },
      );
    await expect(run(oldGroupOnly, false)).rejects.toThrow(
      /may not use consumer group orders-replay-2 .*Add to the role's policy: .*group\/c\/abc-1\/orders-replay-2.*nothing was changed/,
    );
    const unreadable = { policies: async () => Promise.reject(new Error('AccessDenied: iam:ListRolePolicies')) };
    await expect(run(unreadable, false)).rejects.toThrow(
      /cannot read the policies of role .*the CLI cannot check it: check it yourself, then run again with --force \(nothing was changed\)/,
    );
    expect(api.calls).toEqual([]);
    expect(lambda.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(0);
    expect(await ledger.get(topic, 0)).toMatchObject({ generation: 0, committedOffset: 99 });
    // --force goes on, with a warning.
    lambda.on(CreateEventSourceMappingCommand).callsFake((input) => ({ ...input, UUID: 'mapping-2', State: 'Creating' }));
    lambda.on(GetEventSourceMappingCommand, { UUID: 'mapping-2' }).resolves({ UUID: 'mapping-2', State: 'Enabled', Topics: [topic] });
    await run(unreadable, true);
    expect(warnings).toEqual([
      expect.stringMatching(/^WARNING: --force: going on without knowing that the function may use group orders-replay-2/),
    ]);
    expect(api.calls[0]).toBe('disable');
  });
});
