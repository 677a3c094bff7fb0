/**
 * The Kafka admin adapter against a real Apache Kafka broker (KRaft, one node, started from
 * Maven Central's jars by testkit/emulators/kafka-broker.ts; fails — never skips — without java
 * or mvn). A broker without DescribeGroups, where only the commit's refusal protects a live
 * group, is the real broker with the client's list of its APIs stubbed (a real broker always
 * has DescribeGroups; this file needed librdkafka's mock cluster, and kcat, for it before).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import {
  createKafkaAdmin,
  kafkaClientOptions,
  KafkaAdminError,
  KafkaGroupNotEmptyError,
  KafkaInvalidOffsetError,
  KafkaUnknownTopicError,
  KafkaUnreachableError,
  type KafkaAdmin,
} from '../../lib/kafka/kafka-admin.ts';
import { SinkError } from '../../lib/core/errors.ts';
import { startKafkaBroker, type KafkaBroker } from '../../testkit/emulators/kafka-broker.ts';

const P = 4;

interface TestMessage {
  readonly key?: string;
  readonly value: string;
  /** Epoch ms (CreateTime); the current time when absent. */
  readonly timestamp?: number;
}

describe('Kafka admin adapter against a real Kafka broker', () => {
  let broker: KafkaBroker;
  let producer: Producer<string, string, string, string>;
  let admin: KafkaAdmin;
  const T0 = Date.UTC(2026, 0, 1);
  // The same two calls the mock cluster offered, so the cases below read as before.
  const cluster = {
    get bootstrapServers(): string {
      return broker.bootstrap;
    },
    async produce(topic: string, partition: number, messages: readonly TestMessage[]): Promise<void> {
      await producer.send({
        messages: messages.map((m) => ({
          topic,
          partition,
          ...(m.key === undefined ? {} : { key: m.key }),
          value: m.value,
          timestamp: BigInt(m.timestamp ?? Date.now()),
        })),
      });
    },
  };

  beforeAll(async () => {
    broker = await startKafkaBroker();
    const setup = new Admin({ clientId: 'kafka-admin-test', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 200 });
    try {
      await setup.createTopics({ topics: ['orders', 'clicks', 'busy'], partitions: P, replicas: 1 });
    } finally {
      await setup.close();
    }
    producer = new Producer({
      clientId: 'kafka-admin-test',
      bootstrapBrokers: [broker.bootstrap],
      serializers: stringSerializers,
      autocreateTopics: false,
      retries: 3,
      retryDelay: 200,
    });
    admin = createKafkaAdmin({ bootstrapServers: [broker.bootstrap], timeoutMs: 5_000 });
    // orders: 5 records in partitions 0, 1 and 2; partition 3 stays empty.
    for (const partition of [0, 1, 2]) {
      await cluster.produce(
        'orders',
        partition,
        Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `orders-${partition}-${i}`, timestamp: T0 + i * 1_000 })),
      );
    }
    // clicks: 3 records in partition 1 only.
    await cluster.produce('clicks', 1, [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
  }, 300_000);

  afterAll(async () => {
    await admin?.close();
    await producer?.close();
    await broker?.stop();
  });

  it('lists every partition with its earliest offset and high-water mark', async () => {
    expect(await admin.listOffsets('orders')).toEqual([
      { partition: 0, earliest: 0, highWatermark: 5 },
      { partition: 1, earliest: 0, highWatermark: 5 },
      { partition: 2, earliest: 0, highWatermark: 5 },
      { partition: 3, earliest: 0, highWatermark: 0 },
    ]);
    expect(await admin.listOffsets('clicks')).toEqual([
      { partition: 0, earliest: 0, highWatermark: 0 },
      { partition: 1, earliest: 0, highWatermark: 3 },
      { partition: 2, earliest: 0, highWatermark: 0 },
      { partition: 3, earliest: 0, highWatermark: 0 },
    ]);
  });

  it('sees records produced after a first listing', async () => {
    await cluster.produce('clicks', 3, [{ value: 'd', timestamp: T0 }]);
    const offsets = await admin.listOffsets('clicks');
    expect(offsets[3]).toEqual({ partition: 3, earliest: 0, highWatermark: 1 });
  });

  it('offsets for a timestamp: the first record at or after it, else the high-water mark', async () => {
    // Records are at T0, T0+1s, ... T0+4s in partitions 0-2; partition 3 is empty.
    expect(await admin.offsetsForTimestamp('orders', T0 + 2_500)).toEqual([
      { partition: 0, offset: 3 },
      { partition: 1, offset: 3 },
      { partition: 2, offset: 3 },
      { partition: 3, offset: 0 },
    ]);
    expect(await admin.offsetsForTimestamp('orders', T0 - 60_000)).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
      { partition: 2, offset: 0 },
      { partition: 3, offset: 0 },
    ]);
    // After the last record the broker answers -1 ("none at or after it"): the high-water mark.
    expect(await admin.offsetsForTimestamp('orders', T0 + 60_000)).toEqual([
      { partition: 0, offset: 5 },
      { partition: 1, offset: 5 },
      { partition: 2, offset: 5 },
      { partition: 3, offset: 0 },
    ]);
    await expect(admin.offsetsForTimestamp('orders', -5)).rejects.toBeInstanceOf(KafkaInvalidOffsetError);
    await expect(admin.offsetsForTimestamp('orders', 1.5)).rejects.toBeInstanceOf(KafkaInvalidOffsetError);
  });

  it('sets a group’s offsets and fetches them back; unset partitions are undefined', async () => {
    const group = 'replay-group';
    expect(await admin.fetchGroupOffsets(group, 'orders')).toEqual(
      Array.from({ length: P }, (_, partition) => ({ partition, offset: undefined })),
    );
    await admin.setGroupOffsets(group, 'orders', [
      { partition: 0, offset: 2 },
      { partition: 2, offset: 5 },
    ]);
    expect(await admin.fetchGroupOffsets(group, 'orders')).toEqual([
      { partition: 0, offset: 2 },
      { partition: 1, offset: undefined },
      { partition: 2, offset: 5 },
      { partition: 3, offset: undefined },
    ]);
    // Move back to the earliest (a replay), and set the empty partition to its only valid offset.
    await admin.setGroupOffsets(group, 'orders', [
      { partition: 0, offset: 0 },
      { partition: 2, offset: 0 },
      { partition: 3, offset: 0 },
    ]);
    expect(await admin.fetchGroupOffsets(group, 'orders')).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: undefined },
      { partition: 2, offset: 0 },
      { partition: 3, offset: 0 },
    ]);
    // Another group is untouched.
    expect((await admin.fetchGroupOffsets('other-group', 'orders')).every((p) => p.offset === undefined)).toBe(true);
  });

  it('refuses offsets beyond the partition, partitions beyond the topic and bad arguments, committing nothing', async () => {
    const group = 'bad-args-group';
    const beyond = admin.setGroupOffsets(group, 'orders', [{ partition: 1, offset: 6 }]);
    await expect(beyond).rejects.toBeInstanceOf(KafkaInvalidOffsetError);
    await expect(beyond).rejects.toThrow(/out of range for orders-1: the partition holds offsets 0 to 5/);
    await expect(admin.setGroupOffsets(group, 'orders', [{ partition: 9, offset: 0 }])).rejects.toThrow(
      /Unknown Kafka topic "orders": it has 4 partitions, so no partition 9/,
    );
    await expect(admin.setGroupOffsets(group, 'orders', [{ partition: 0, offset: -1 }])).rejects.toBeInstanceOf(KafkaInvalidOffsetError);
    await expect(
      admin.setGroupOffsets(group, 'orders', [
        { partition: 0, offset: 1 },
        { partition: 0, offset: 2 },
      ]),
    ).rejects.toThrow(/given twice/);
    await expect(admin.setGroupOffsets('', 'orders', [{ partition: 0, offset: 1 }])).rejects.toBeInstanceOf(KafkaAdminError);
    expect((await admin.fetchGroupOffsets(group, 'orders')).every((p) => p.offset === undefined)).toBe(true);
  });

  it('an unknown topic is a typed error, for every operation, and is never auto-created', async () => {
    const set = admin.setGroupOffsets('g', 'no-such-topic', [{ partition: 0, offset: 0 }]);
    await expect(set).rejects.toBeInstanceOf(KafkaUnknownTopicError);
    await expect(set).rejects.toThrow('Unknown Kafka topic "no-such-topic"');
    await expect(set).rejects.toBeInstanceOf(SinkError);
    await expect(admin.listOffsets('no-such-topic')).rejects.toBeInstanceOf(KafkaUnknownTopicError);
    await expect(admin.offsetsForTimestamp('no-such-topic', T0)).rejects.toBeInstanceOf(KafkaUnknownTopicError);
    await expect(admin.fetchGroupOffsets('g', 'no-such-topic')).rejects.toBeInstanceOf(KafkaUnknownTopicError);
    // Still unknown: none of the calls above created it (the broker runs with auto.create.topics.enable=true).
    await expect(admin.listOffsets('no-such-topic')).rejects.toMatchObject({ topic: 'no-such-topic' });
  });

  it('refuses to set the offsets of a group with an active member (DescribeGroups)', async () => {
    const group = 'live-group';
    const consumer = new Consumer({
      clientId: 'live-consumer',
      groupId: group,
      bootstrapBrokers: [cluster.bootstrapServers],
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      retries: 2,
      retryDelay: 100,
    });
    try {
      const stream = await consumer.consume({ topics: ['busy'], autocommit: false, mode: 'earliest', maxWaitTime: 200 });
      stream.on('data', () => undefined);
      // consume() resolves once the consumer has joined the group and has its assignment.
      const refused = admin.setGroupOffsets(group, 'busy', [{ partition: 0, offset: 0 }]);
      await expect(refused).rejects.toBeInstanceOf(KafkaGroupNotEmptyError);
      // A real broker has DescribeGroups: the adapter refuses before committing anything.
      await expect(refused).rejects.toThrow(/Consumer group "live-group" has active members \(state Stable, 1 member\(s\)\)/);
      await stream.close();
    } finally {
      await consumer.close(true);
    }
  });

  it('a broker without DescribeGroups (its API list stubbed): the commit’s refusal (UNKNOWN_MEMBER_ID) is the guard', async () => {
    // Every real broker has DescribeGroups, so the client's list of the broker's APIs is stubbed
    // to leave it out (as librdkafka's mock cluster did); everything else, the refused commit
    // included, is the real broker's.
    const listApis = Admin.prototype.listApis;
    const apis = vi.spyOn(Admin.prototype, 'listApis').mockImplementation(async function (this: Admin) {
      const all = (await listApis.call(this)) as Awaited<ReturnType<Admin['listApis']>>;
      return all.filter((api) => api.name !== 'DescribeGroups');
    } as Admin['listApis']);
    const describeGroups = vi.spyOn(Admin.prototype, 'describeGroups');
    const group = 'live-group-without-describe';
    const consumer = new Consumer({
      clientId: 'live-consumer',
      groupId: group,
      bootstrapBrokers: [cluster.bootstrapServers],
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      retries: 2,
      retryDelay: 100,
    });
    try {
      const stream = await consumer.consume({ topics: ['busy'], autocommit: false, mode: 'earliest', maxWaitTime: 200 });
      stream.on('data', () => undefined);
      // consume() resolves once the consumer has joined the group and has its assignment.
      const refused = admin.setGroupOffsets(group, 'busy', [{ partition: 0, offset: 0 }]);
      await expect(refused).rejects.toBeInstanceOf(KafkaGroupNotEmptyError);
      await expect(refused).rejects.toThrow(
        /Consumer group "live-group-without-describe" has active members \(the broker refused the commit with UNKNOWN_MEMBER_ID\)/,
      );
      expect(apis).toHaveBeenCalled();
      expect(describeGroups).not.toHaveBeenCalled();
      await stream.close();
    } finally {
      apis.mockRestore();
      describeGroups.mockRestore();
      await consumer.close(true);
    }
    // Nothing was committed: the group never had an offset for partition 0.
    expect((await admin.fetchGroupOffsets(group, 'busy'))[0]).toEqual({ partition: 0, offset: undefined });
  });

  it('a closed admin refuses calls with a typed error; close is idempotent', async () => {
    const other = createKafkaAdmin({ bootstrapServers: [cluster.bootstrapServers], timeoutMs: 5_000 });
    expect((await other.listOffsets('orders')).length).toBe(P);
    await other.close();
    await other.close();
    await expect(other.listOffsets('orders')).rejects.toThrow(/closed/);
  });
});

describe('Kafka admin adapter: unreachable brokers', () => {
  it('a refused connection is a KafkaUnreachableError, well within the timeout', async () => {
    const port = await closedPort();
    const admin = createKafkaAdmin({ bootstrapServers: [`127.0.0.1:${port}`], timeoutMs: 3_000 });
    const started = performance.now();
    try {
      const call = admin.listOffsets('orders');
      await expect(call).rejects.toBeInstanceOf(KafkaUnreachableError);
      await expect(call).rejects.toThrow(`Cannot reach Kafka at 127.0.0.1:${port}`);
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      await admin.close();
    }
  });

  it('a broker that accepts but never answers is a KafkaUnreachableError at the timeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const admin = createKafkaAdmin({ bootstrapServers: [`127.0.0.1:${port}`], timeoutMs: 1_000 });
    const started = performance.now();
    try {
      const call = admin.fetchGroupOffsets('g', 'orders');
      await expect(call).rejects.toBeInstanceOf(KafkaUnreachableError);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(2_000);
    } finally {
      await admin.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('malformed or missing bootstrap servers are refused before connecting', () => {
    expect(() => createKafkaAdmin({ bootstrapServers: [] })).toThrow(KafkaAdminError);
    expect(() => createKafkaAdmin({ bootstrapServers: ['broker-1'] })).toThrow(/Malformed Kafka bootstrap server "broker-1"/);
  });
});

describe('Kafka admin adapter: security options map to the client’s TLS and SASL settings (no broker, no AWS)', () => {
  const base = { bootstrapServers: ['b-1.example:9098', 'b-2.example:9098'] };

  it('none: plaintext, no SASL; timeouts and no topic auto-creation', () => {
    const options = kafkaClientOptions({ ...base, timeoutMs: 4_000, clientId: 'ops' });
    expect(options).toMatchObject({
      clientId: 'ops',
      bootstrapBrokers: base.bootstrapServers,
      connectTimeout: 4_000,
      requestTimeout: 4_000,
      autocreateTopics: false,
    });
    expect(options.tls).toBeUndefined();
    expect(options.sasl).toBeUndefined();
  });

  it('tls: CA, certificate and key are passed to TLS', () => {
    const options = kafkaClientOptions({ ...base, security: { kind: 'tls', ca: 'CA', cert: 'CERT', key: 'KEY' } });
    expect(options.tls).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
    expect(kafkaClientOptions({ ...base, security: { kind: 'tls' } }).tls).toEqual({});
  });

  it('sasl-scram: mechanism and credentials, over TLS unless told otherwise', () => {
    const scram = kafkaClientOptions({
      ...base,
      security: { kind: 'sasl-scram', mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
    });
    expect(scram.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
    expect(scram.tls).toEqual({});
    const plain = kafkaClientOptions({
      ...base,
      security: { kind: 'sasl-scram', mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p', tls: false },
    });
    expect(plain.sasl?.mechanism).toBe('SCRAM-SHA-256');
    expect(plain.tls).toBeUndefined();
  });

  it('msk-iam: OAUTHBEARER over TLS, the token signed for the region when a connection authenticates', async () => {
    const calls: Array<{ region: string }> = [];
    const signer = async (o: { region: string }): Promise<{ token: string }> => {
      calls.push(o);
      return { token: `signed-for-${o.region}` };
    };
    const options = kafkaClientOptions({ ...base, security: { kind: 'msk-iam', region: 'eu-west-1' } }, signer);
    expect(options.sasl?.mechanism).toBe('OAUTHBEARER');
    expect(options.tls).toEqual({});
    expect(calls).toEqual([]); // nothing is signed until a connection authenticates
    const token = options.sasl?.token;
    expect(typeof token).toBe('function');
    expect(await (token as () => Promise<string>)()).toBe('signed-for-eu-west-1');
    expect(calls).toEqual([{ region: 'eu-west-1' }]);
    // The default signer is the maintained AWS package, loaded lazily (not called here).
    expect(typeof kafkaClientOptions({ ...base, security: { kind: 'msk-iam', region: 'eu-west-1' } }).sasl?.token).toBe('function');
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
