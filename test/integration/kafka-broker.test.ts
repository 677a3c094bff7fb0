/**
 * The real Apache Kafka broker the project starts (testkit/emulators/kafka-broker.ts): a KRaft
 * single node from Maven Central's jars, run with Java 17+. The first run on a machine fetches
 * the jars (Maven) into the project's cache (~/.cache/msk-s3-sink/; the test setup does that up
 * front); it fails — never skips — without java or mvn.
 */
import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdmin, type KafkaAdmin } from '../../lib/kafka/kafka-admin.ts';
import { ensureKafkaJars, KAFKA_VERSION, startKafkaBroker, type KafkaBroker } from '../../testkit/emulators/kafka-broker.ts';
import { PrerequisiteError } from '../../testkit/emulators/prerequisites.ts';
import { ROOT, runScript } from '../support/child.ts';

const T0 = Date.UTC(2026, 0, 1);
const TOPIC = 'orders';
const PARTITIONS = 3;
const PER_PARTITION = 5;

describe('a real Kafka broker (KRaft, single node)', () => {
  let broker: KafkaBroker;
  let admin: KafkaAdmin;

  beforeAll(async () => {
    const started = performance.now();
    // The first run on a machine also downloads ~45 MB of jars from Maven Central.
    broker = await startKafkaBroker({ log: (line) => process.stderr.write(`${line}\n`) });
    process.stderr.write(`kafka-broker.test: broker answered on ${broker.bootstrap} after ${Math.round(performance.now() - started)} ms\n`);
    admin = createKafkaAdmin({ bootstrapServers: [broker.bootstrap], timeoutMs: 10_000 });
  }, 300_000);

  afterAll(async () => {
    await admin?.close();
    await broker?.stop();
  });

  it('creates a topic with 3 partitions, takes records with their timestamps and gives them back', async () => {
    const raw = new Admin({ clientId: 'kafka-broker-test', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 200 });
    try {
      const created = await raw.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 });
      expect(created.map((t) => [t.name, t.partitions])).toEqual([[TOPIC, PARTITIONS]]);
      const metadata = await raw.metadata({ topics: [TOPIC] });
      expect(metadata.topics.get(TOPIC)?.partitionsCount).toBe(PARTITIONS);
    } finally {
      await raw.close();
    }

    const producer = new Producer({
      clientId: 'kafka-broker-test',
      bootstrapBrokers: [broker.bootstrap],
      serializers: stringSerializers,
      autocreateTopics: false,
      retries: 3,
      retryDelay: 200,
    });
    try {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        await producer.send({
          messages: Array.from({ length: PER_PARTITION }, (_, i) => ({
            topic: TOPIC,
            partition,
            key: `k${i}`,
            value: `${TOPIC}-${partition}-${i}`,
            timestamp: BigInt(T0 + i * 1_000),
          })),
        });
      }
    } finally {
      await producer.close();
    }

    const consumer = new Consumer({
      clientId: 'kafka-broker-test',
      groupId: 'kafka-broker-test-readback',
      bootstrapBrokers: [broker.bootstrap],
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      retries: 3,
      retryDelay: 200,
    });
    const seen: Array<{ partition: number; offset: number; key: string; value: string; timestamp: number }> = [];
    try {
      const stream = await consumer.consume({
        topics: [TOPIC],
        mode: MessagesStreamModes.EARLIEST,
        autocommit: false,
        maxWaitTime: 200,
      });
      for await (const message of stream) {
        seen.push({
          partition: message.partition,
          offset: Number(message.offset),
          key: message.key,
          value: message.value,
          timestamp: Number(message.timestamp),
        });
        if (seen.length === PARTITIONS * PER_PARTITION) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    seen.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect(seen).toEqual(
      Array.from({ length: PARTITIONS * PER_PARTITION }, (_, n) => {
        const partition = Math.floor(n / PER_PARTITION);
        const i = n % PER_PARTITION;
        return { partition, offset: i, key: `k${i}`, value: `${TOPIC}-${partition}-${i}`, timestamp: T0 + i * 1_000 };
      }),
    );
  });

  it('lists offsets, and offsets by timestamp (which the librdkafka mock answered with -1)', async () => {
    expect(await admin.listOffsets(TOPIC)).toEqual(
      Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, earliest: 0, highWatermark: PER_PARTITION })),
    );
    // Records are at T0, T0+1s, ... T0+4s: the first at or after T0+2.5s is offset 3.
    expect(await admin.offsetsForTimestamp(TOPIC, T0 + 2_500)).toEqual(
      Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: 3 })),
    );
    expect(await admin.offsetsForTimestamp(TOPIC, T0)).toEqual(
      Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: 0 })),
    );
    // After the last record: the high-water mark.
    expect(await admin.offsetsForTimestamp(TOPIC, T0 + 60_000)).toEqual(
      Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: PER_PARTITION })),
    );
  });

  it('stops cleanly: the process exits, the port closes, and a second stop is harmless', async () => {
    const other = await startKafkaBroker();
    const pid = other.pid;
    expect(pid).toBeTypeOf('number');
    expect(isAlive(pid!)).toBe(true);
    expect(existsSync(other.dataDir)).toBe(true);
    await other.stop();
    expect(isAlive(pid!)).toBe(false);
    expect(existsSync(other.dataDir)).toBe(false);
    await other.stop();
    const probe = createKafkaAdmin({ bootstrapServers: [other.bootstrap], timeoutMs: 2_000 });
    try {
      await expect(probe.listOffsets(TOPIC)).rejects.toThrow(/Cannot reach Kafka/);
    } finally {
      await probe.close();
    }
    // The first broker is unaffected.
    expect((await admin.listOffsets(TOPIC)).length).toBe(PARTITIONS);
  }, 120_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the jar cache', () => {
  it('two concurrent fills of an empty cache: one runs mvn, the other waits; the jars land once', async () => {
    // Maven resolves from ~/.m2, which the broker's first start has filled: no download here.
    const root = await mkdtemp(join(tmpdir(), 'msk-s3-sink-kafka-jars-'));
    try {
      const cacheDir = join(root, `kafka-${KAFKA_VERSION}`);
      const lines: string[] = [];
      const dirs = await Promise.all(
        ['a', 'b'].map((who) => ensureKafkaJars(KAFKA_VERSION, cacheDir, (line) => lines.push(`${who}: ${line}`))),
      );
      expect(dirs).toEqual([cacheDir, cacheDir]);
      expect(lines.filter((l) => l.includes('kafka: fetching org.apache.kafka:kafka_2.13')).length).toBe(1);
      expect(lines.filter((l) => l.includes('another process is fetching')).length).toBe(1);
      expect(readdirSync(root)).toEqual([`kafka-${KAFKA_VERSION}`]); // no lock or temp directory left
      expect(readdirSync(cacheDir)).toContain(`kafka_2.13-${KAFKA_VERSION}.jar`);
      // A filled cache is used as it is.
      lines.length = 0;
      expect(await ensureKafkaJars(KAFKA_VERSION, cacheDir, (line) => lines.push(line))).toBe(cacheDir);
      expect(lines).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);

  it('an empty cache without mvn on the PATH: one line saying what to install, nothing left behind', async () => {
    const root = await mkdtemp(join(tmpdir(), 'msk-s3-sink-kafka-jars-'));
    const path = process.env.PATH;
    // Only node's own directory on the PATH (mvn lives elsewhere); restored at once.
    process.env.PATH = dirname(process.execPath);
    try {
      const fill = ensureKafkaJars(KAFKA_VERSION, join(root, `kafka-${KAFKA_VERSION}`), () => undefined);
      process.env.PATH = path;
      await expect(fill).rejects.toBeInstanceOf(PrerequisiteError);
      await expect(fill).rejects.toThrow(
        /^msk-s3-sink: missing prerequisite: `mvn` \(Apache Maven, fetches Apache Kafka's jars from Maven Central once\) is not on the PATH: install Maven, e\.g\. `apt-get install maven`$/,
      );
      expect(readdirSync(root)).toEqual([]);
    } finally {
      process.env.PATH = path;
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('npm run kafka (local/kafka.ts)', () => {
  it('prints the bootstrap address, serves, and stops cleanly on Ctrl-C (SIGINT)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/kafka.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const deadline = Date.now() + 100_000;
      while (!/bootstrap\.servers=127\.0\.0\.1:\d+\n/.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`local/kafka.ts exited early:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`local/kafka.ts printed no bootstrap address:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const bootstrap = /bootstrap\.servers=(\S+)/.exec(stdout)![1]!;
      const probe = createKafkaAdmin({ bootstrapServers: [bootstrap], timeoutMs: 5_000 });
      try {
        // An unknown topic is a typed error only if the broker answered the metadata request.
        await expect(probe.listOffsets('nothing-here')).rejects.toThrow(/Unknown Kafka topic "nothing-here"/);
      } finally {
        await probe.close();
      }
      child.kill('SIGINT');
      expect(await exited).toEqual([0, null]);
      expect(stderr).toMatch(/kafka: stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('never outlives its parent: a SIGKILLed local/kafka.ts takes the broker and its files with it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/kafka.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = once(child, 'exit');
    let started: RegExpExecArray | null = null;
    try {
      const deadline = Date.now() + 100_000;
      while ((started = /broker \(pid (\d+), files in (\S+)\)/.exec(stderr)) === null) {
        if (child.exitCode !== null) throw new Error(`local/kafka.ts exited early:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`local/kafka.ts did not start a broker:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const javaPid = Number(started[1]);
    const dataDir = started[2]!;
    // The watchdog sends SIGTERM within 0.5 s and SIGKILL 10 s later; allow a loaded machine more.
    const deadline = Date.now() + 40_000;
    while ((isAlive(javaPid) || existsSync(dataDir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(javaPid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  }, 150_000);

  it('without java on the PATH: exits 1 with one line saying what to install', async () => {
    // Only node's own directory on the PATH, so neither java nor mvn is found.
    const run = await runScript('local/kafka.ts', [], { PATH: dirname(process.execPath) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'msk-s3-sink: missing prerequisite: `java` (Java 17+, runs DynamoDB Local and the Kafka broker) is not on the PATH: install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`\n',
    );
    expect(run.stdout).toBe('');
  });
});
