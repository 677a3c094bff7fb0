/**
 * Starts a real Apache Kafka 4.x broker (KRaft, one combined broker+controller node) on free
 * loopback ports, from its Maven Central artifacts run with the installed Java 17+.
 *
 * The jars (`org.apache.kafka:kafka_2.13` and its runtime dependencies) are fetched once by
 * Maven (`mvn dependency:copy-dependencies` on a generated pom) into the project's cache
 * (`cacheRoot()` in prerequisites.ts: `${XDG_CACHE_HOME:-~/.cache}/msk-s3-sink/kafka-<version>/`,
 * or under `$MSK_S3_SINK_CACHE_DIR`), keyed by version; later starts reuse them. Needs `java`
 * always and `mvn` only for that first fetch (a missing one is a `PrerequisiteError`).
 */
import { Admin } from '@platformatic/kafka';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchOnFreePorts, PortTakenError, startWatchdog, stopChild, watchChild } from './child-process.ts';
import { cacheComplete, cacheRoot, checkPrerequisites, fillCacheOnce } from './prerequisites.ts';

/** The Kafka release the tests and local mode run (Maven Central `org.apache.kafka:kafka_2.13`). */
export const KAFKA_VERSION = '4.1.1';

export interface KafkaBrokerOptions {
  /** Maven version of `org.apache.kafka:kafka_2.13`; default {@link KAFKA_VERSION}. */
  readonly version?: string;
  /** Where the jars are cached; default {@link kafkaCacheDir}. */
  readonly cacheDir?: string;
  /** How long to wait for the broker to answer (after any download); default 120 s. */
  readonly startTimeoutMs?: number;
  /** Progress lines (one per step); default: stderr. */
  readonly log?: (line: string) => void;
  /** Extra `server.properties` entries, which override the defaults. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface KafkaBroker {
  /** `127.0.0.1:PORT` of the PLAINTEXT listener. */
  readonly bootstrap: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Temp directory of its configuration and log directory (removed by stop). */
  readonly dataDir: string;
  /** Stops the broker (SIGTERM, SIGKILL after 10 s), waits for it to exit and removes its log directory. */
  stop(): Promise<void>;
}

/** Thrown when the Kafka broker cannot be fetched or started; the message carries the output tail. */
export class KafkaBrokerStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KafkaBrokerStartError';
  }
}

/** Default cache directory of a Kafka version's jars: `<cacheRoot()>/kafka-<version>/`. */
export function kafkaCacheDir(version: string = KAFKA_VERSION): string {
  return join(cacheRoot(), `kafka-${version}`);
}

/**
 * Fetches the broker's jars into the cache unless they are already there, and returns the
 * directory. Safe to call concurrently, from several processes (see `fillCacheOnce`). Needs `mvn`
 * only when the cache is empty; a missing one is a {@link PrerequisiteError}.
 */
export async function ensureKafkaJars(
  version: string = KAFKA_VERSION,
  cacheDir: string = kafkaCacheDir(version),
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<string> {
  if (cacheComplete(cacheDir)) return cacheDir;
  checkPrerequisites({ mvn: true });
  await fillCacheOnce({
    dir: cacheDir,
    label: 'kafka',
    what: `org.apache.kafka:kafka_2.13:${version} and its dependencies from Maven Central`,
    log,
    fill: (work) => fetchJars(version, work),
  });
  return cacheDir;
}

/** Copies the jars into `dir` with Maven (which keeps its own copy in ~/.m2); returns `N jars`. */
async function fetchJars(version: string, dir: string): Promise<string> {
  const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>msk-s3-sink</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
  </dependencies>
</project>
`;
  // A hidden name: the broker's class path is the directory's *.jar only.
  const pomFile = join(dir, '.pom.xml');
  await writeFile(pomFile, pom);
  const mvn = spawn(
    'mvn',
    ['-B', '-q', '-f', pomFile, 'dependency:copy-dependencies', `-DoutputDirectory=${dir}`, '-DincludeScope=runtime'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const mvnOutput = watchChild(mvn).output;
  const [code] = (await once(mvn, 'close')) as [number | null];
  if (code !== 0) {
    throw new KafkaBrokerStartError(
      `mvn could not fetch Kafka ${version} (exit code ${code}).\n--- output tail ---\n${mvnOutput().slice(-2000)}`,
    );
  }
  await rm(join(dir, 'target'), { recursive: true, force: true });
  const jars = readdirSync(dir).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith('kafka_2.13-'))) {
    throw new KafkaBrokerStartError(`mvn fetched no kafka_2.13 jar for Kafka ${version} into ${dir}`);
  }
  return `${jars.length} jars`;
}

/** Starts a single-node KRaft broker; see the module comment. */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const version = options.version ?? KAFKA_VERSION;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  checkPrerequisites({ java: true });
  const jars = await ensureKafkaJars(version, options.cacheDir ?? kafkaCacheDir(version), log);
  // Usually a few seconds; a loaded machine (a busy CI, parallel runs) can take far longer.
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  return launchOnFreePorts(
    2,
    ([port = 0, controllerPort = 0]) => launch(jars, port, controllerPort, options.properties ?? {}, timeoutMs),
    (cause) => new KafkaBrokerStartError('Kafka broker: no free ports after 5 attempts', { cause }),
  );
}

/**
 * A new cluster id: 16 random bytes in URL-safe base64 without padding. Like Kafka's own
 * `Uuid.randomUuid`, it never starts with `-`, which the storage tool's argument parser would
 * take for an option (one id in 64 did, and the broker then failed to start).
 */
export function randomClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(dir: string, port: number, controllerPort: number, extra: Readonly<Record<string, string>>): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'logs'),
    'num.partitions': '1',
    'auto.create.topics.enable': 'true',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    ...extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

function javaArgs(jars: string, dir: string): string[] {
  return [
    '-Xmx512m',
    '-Xms128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${join(dir, 'app-logs')}`,
    '-cp',
    `${jars}/*`,
  ];
}

async function launch(
  jars: string,
  port: number,
  controllerPort: number,
  extra: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<KafkaBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'msk-s3-sink-kafka-'));
  const propsFile = join(dir, 'server.properties');
  await writeFile(propsFile, serverProperties(dir, port, controllerPort, extra));

  const format = spawn('java', [...javaArgs(jars, dir), 'kafka.tools.StorageTool', 'format', '-t', randomClusterId(), '-c', propsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const formatOutput = watchChild(format).output;
  const [formatCode] = (await once(format, 'close')) as [number | null];
  if (formatCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new KafkaBrokerStartError(
      `Kafka's storage tool could not format ${join(dir, 'logs')} (exit code ${formatCode}).\n--- output tail ---\n${formatOutput().slice(-2000)}`,
    );
  }

  const child = spawn('java', [...javaArgs(jars, dir), 'kafka.Kafka', propsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) startWatchdog(child.pid, { graceMs: 10_000, removeDir: dir });
  // 6,000 characters: a BindException comes with a long Java stack trace.
  const watched = watchChild(child, 6000);
  const cleanup = async (): Promise<void> => {
    await stopChild(child, watched.exit, 10_000);
    await rm(dir, { recursive: true, force: true });
  };

  const bootstrap = `127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = watched.ended();
    if (ended !== undefined) {
      await rm(dir, { recursive: true, force: true });
      const output = watched.output();
      if (/Address already in use|BindException/i.test(output)) throw new PortTakenError(output);
      const why =
        ended.spawnError !== undefined
          ? `could not run java (${ended.spawnError.message}); Kafka 4 needs Java 17+ on the PATH`
          : `the process exited (code ${ended.code}, signal ${ended.signal})`;
      throw new KafkaBrokerStartError(`The Kafka broker did not start: ${why}.\n--- output tail ---\n${output.slice(-2000)}`, {
        cause: ended.spawnError,
      });
    }
    const err = await probe(bootstrap);
    if (err === undefined) break;
    if (Date.now() > deadline) {
      await cleanup();
      throw new KafkaBrokerStartError(
        `The Kafka broker did not answer on ${bootstrap} within ${timeoutMs} ms.\n--- output tail ---\n${watched.output().slice(-2000)}`,
        { cause: err },
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  let stopped: Promise<void> | undefined;
  return {
    bootstrap,
    port,
    pid: child.pid,
    dataDir: dir,
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
}

/** Undefined once the broker answers a metadata request with itself as a broker; else the error. */
async function probe(bootstrap: string): Promise<unknown> {
  const admin = new Admin({ clientId: 'kafka-broker-probe', bootstrapBrokers: [bootstrap], timeout: 2_000, retries: 0 });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0 ? undefined : new Error('no broker in the metadata yet');
  } catch (err) {
    return err;
  } finally {
    await admin.close().catch(() => undefined);
  }
}
