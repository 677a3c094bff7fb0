/**
 * A real Kafka protocol peer for tests: librdkafka's mock cluster, started through Debian's
 * `kcat` (librdkafka 2.0.2), with a small TCP shim in front of it.
 *
 * `kcat -X test.mock.num.brokers=1 -b localhost:1 -P -t <topic> -d mock` starts the mock cluster,
 * prints `bootstrap.servers=127.0.0.1:PORT` on stderr and serves while its stdin stays open.
 *
 * What librdkafka 2.0.2's mock implements (rdkafka_mock_handlers.c): Produce v0-7, Fetch v0-11,
 * ListOffsets v0-5, Metadata v0-2, OffsetCommit v0-7, OffsetFetch v0-5, FindCoordinator v0-2,
 * JoinGroup/SyncGroup/Heartbeat/LeaveGroup, InitProducerId and the transaction APIs. Not:
 * DescribeGroups, ListGroups, CreateTopics, DeleteRecords, SASL. Also:
 * - every topic is auto-created (by Metadata with auto-creation allowed, as the producer asks)
 *   with the mock's fixed default of **4 partitions**; nothing reachable from kcat changes it;
 * - ListOffsets by timestamp is not implemented: it answers offset -1 for every timestamp
 *   (`/* FIXME: by timestamp *\/`), i.e. "no record at or after it";
 * - ListOffsets v4/v5 responses write LeaderEpoch as an int64 instead of an int32, which corrupts
 *   every response with more than one partition. The shim below caps the ListOffsets version the
 *   mock advertises (in ApiVersions) at 3, which the mock encodes correctly.
 *
 * The shim forwards bytes unchanged except: that ApiVersions entry, and the broker port in
 * Metadata and FindCoordinator responses (rewritten to the shim's port so that the client keeps
 * talking through the shim). Producing goes through `@platformatic/kafka`'s producer, which
 * gives control of partitions and timestamps.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';

export interface MockTopic {
  readonly name: string;
  /** Must be 4: librdkafka 2.0.2's mock creates every topic with 4 partitions. */
  readonly partitions: number;
}

export interface MockMessage {
  readonly key?: string;
  readonly value: string;
  /** Epoch ms (CreateTime); the current time when absent. */
  readonly timestamp?: number;
}

export interface KafkaMockCluster {
  /** `127.0.0.1:PORT` of the shim in front of the mock broker. */
  readonly bootstrapServers: string;
  produce(topic: string, partition: number, messages: readonly MockMessage[]): Promise<void>;
  stop(): Promise<void>;
}

/** librdkafka 2.0.2's mock cluster's fixed partition count for auto-created topics. */
export const MOCK_PARTITIONS_PER_TOPIC = 4;

const LIST_OFFSETS_API = 2;
const METADATA_API = 3;
const FIND_COORDINATOR_API = 10;
const API_VERSIONS_API = 18;
const MAX_LIST_OFFSETS_VERSION = 3;

/** Throws with instructions when kcat is not installed (CI installs it in .ci/run). */
export function requireKcat(): void {
  const probe = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      "kcat is not installed, and the Kafka admin integration tests need it as their Kafka protocol peer: install Debian's kcat (`apt-get install -y kcat`); .ci/run installs it when missing" +
        (probe.error ? ` (${probe.error.message})` : ''),
    );
  }
}

export async function startKafkaMockCluster(options: {
  readonly topics: readonly MockTopic[];
}): Promise<KafkaMockCluster> {
  requireKcat();
  for (const topic of options.topics) {
    if (topic.partitions !== MOCK_PARTITIONS_PER_TOPIC) {
      throw new Error(
        `Topic ${topic.name}: librdkafka 2.0's mock cluster creates every topic with ${MOCK_PARTITIONS_PER_TOPIC} partitions and cannot be told otherwise; ask for ${MOCK_PARTITIONS_PER_TOPIC} (leave partitions empty to test fewer)`,
      );
    }
  }
  const kcat = spawn(
    'kcat',
    ['-X', 'test.mock.num.brokers=1', '-b', 'localhost:1', '-P', '-t', options.topics[0]?.name ?? 'mock-boot', '-d', 'mock'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-20_000); // keep draining: -d mock is chatty
  };
  kcat.stdout.on('data', keep);
  kcat.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => kcat.once('exit', () => resolve()));

  let mockPort: number;
  try {
    mockPort = await waitForBootstrap(kcat, () => log);
  } catch (error) {
    kcat.kill('SIGKILL');
    throw error;
  }

  const shim = await startShim(mockPort);
  const bootstrapServers = `127.0.0.1:${shim.port}`;
  const producer = new Producer({
    clientId: 'kafka-mock-cluster',
    bootstrapBrokers: [bootstrapServers],
    serializers: stringSerializers,
    autocreateTopics: true,
    idempotent: false,
    acks: 1,
    retries: 2,
    retryDelay: 100,
  });

  const stop = async (): Promise<void> => {
    await producer.close().catch(() => undefined);
    await shim.close();
    kcat.stdin.end();
    const timer = setTimeout(() => kcat.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    // Create the topics (Metadata with auto-creation) and check their partition counts.
    const admin = new Admin({ clientId: 'kafka-mock-cluster', bootstrapBrokers: [bootstrapServers], retries: 2, retryDelay: 100 });
    try {
      const metadata = await admin.metadata({ topics: options.topics.map((t) => t.name), autocreateTopics: true });
      for (const topic of options.topics) {
        const count = metadata.topics.get(topic.name)?.partitionsCount;
        if (count !== topic.partitions) {
          throw new Error(`Mock topic ${topic.name} has ${count} partitions, not ${topic.partitions}`);
        }
      }
    } finally {
      await admin.close();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    bootstrapServers,
    async produce(topic, partition, messages) {
      if (messages.length === 0) return;
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
    stop,
  };
}

function waitForBootstrap(kcat: ChildProcess, log: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = /bootstrap\.servers=127\.0\.0\.1:(\d+)/.exec(log());
      if (match) {
        done();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`kcat exited (code ${code}) before its mock cluster was up:\n${log()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`kcat's mock cluster did not print its bootstrap.servers within 10 s:\n${log()}`));
    }, 10_000);
    const done = (): void => {
      clearTimeout(timer);
      kcat.stderr?.off('data', check);
      kcat.stdout?.off('data', check);
      kcat.off('exit', onExit);
    };
    kcat.stderr?.on('data', check);
    kcat.stdout?.on('data', check);
    kcat.once('exit', onExit);
    check();
  });
}

interface Shim {
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP relay to the mock broker that fixes up the three responses described at the top. */
async function startShim(mockPort: number): Promise<Shim> {
  const sockets = new Set<net.Socket>();
  let shimPort = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(mockPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const pending = new Map<number, { apiKey: number; apiVersion: number }>();
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    client.on(
      'data',
      framer((frame) => {
        // Request: size, api_key int16, api_version int16, correlation_id int32, ...
        pending.set(frame.readInt32BE(8), { apiKey: frame.readInt16BE(4), apiVersion: frame.readInt16BE(6) });
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      framer((frame) => {
        const correlationId = frame.readInt32BE(4);
        const request = pending.get(correlationId);
        pending.delete(correlationId);
        if (request) {
          try {
            patchResponse(frame, request.apiKey, request.apiVersion, mockPort, shimPort);
          } catch (error) {
            if (!(error instanceof RangeError)) throw error; // a shape not expected: pass it on as it is
          }
        }
        client.write(frame);
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  shimPort = (server.address() as net.AddressInfo).port;
  return {
    port: shimPort,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Splits a byte stream into whole Kafka frames (int32 size prefix included). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let buffered: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0);
      if (buffered.length < 4 + size) break;
      onFrame(Buffer.from(buffered.subarray(0, 4 + size)));
      buffered = buffered.subarray(4 + size);
    }
  };
}

/** Patches a response frame in place (every patched field keeps its size). */
function patchResponse(frame: Buffer, apiKey: number, apiVersion: number, mockPort: number, shimPort: number): void {
  let at = 8; // size int32 + correlation_id int32; these versions have no header tagged fields
  const string = (): void => {
    const length = frame.readInt16BE(at);
    at += 2 + Math.max(length, 0);
  };
  const port = (): void => {
    if (frame.readInt32BE(at) === mockPort) frame.writeInt32BE(shimPort, at);
    at += 4;
  };
  if (apiKey === API_VERSIONS_API) {
    // v3+ requests get UNSUPPORTED_VERSION (the mock's max is v2) in a compact encoding that
    // lists ApiVersions alone; the client then asks again with v2.
    if (apiVersion > 2) return;
    const count = frame.readInt32BE(at + 2);
    at += 6;
    for (let i = 0; i < count; i++, at += 6) {
      if (frame.readInt16BE(at) === LIST_OFFSETS_API && frame.readInt16BE(at + 4) > MAX_LIST_OFFSETS_VERSION) {
        frame.writeInt16BE(MAX_LIST_OFFSETS_VERSION, at + 4);
      }
    }
  } else if (apiKey === METADATA_API && apiVersion <= 8) {
    if (apiVersion >= 3) at += 4; // throttle_time_ms
    const brokers = frame.readInt32BE(at);
    at += 4;
    for (let i = 0; i < brokers; i++) {
      at += 4; // node_id
      string(); // host
      port();
      if (apiVersion >= 1) string(); // rack
    }
  } else if (apiKey === FIND_COORDINATOR_API && apiVersion <= 2) {
    if (apiVersion >= 1) at += 4; // throttle_time_ms
    at += 2; // error_code
    if (apiVersion >= 1) string(); // error_message
    at += 4; // node_id
    string(); // host
    port();
  }
}
