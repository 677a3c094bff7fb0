/**
 * Vitest global setup, run once before any test file:
 *
 * 1. checks the prerequisites from outside npm (`java`; `python3`; `mvn` and pip only while the
 *    cache lacks what they fetch) and fails in one line saying what to install;
 * 2. fetches Apache Kafka's jars (Maven Central) and moto (PyPI) into the project's cache, once,
 *    up front, so that test files running in parallel never race to download them;
 * 3. starts one DynamoDB Local for the whole run, in memory and with a shared database, so that
 *    every test file (in any worker) sees the same tables. Tests read its endpoint with
 *    `inject('dynamoEndpoint')` and create uniquely named tables, so files can run in parallel.
 *
 * One progress line per step, with its time (and sizes when something is fetched). The `integration`
 * and `chaos` projects declare this setup (vitest.config.ts); when both run, they share one start.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../testkit/emulators/dynamodb-local.ts';
import { ensureKafkaJars, kafkaCacheDir, KAFKA_VERSION } from '../../testkit/emulators/kafka-broker.ts';
import { ensureMoto, motoCacheDir } from '../../testkit/emulators/moto-server.ts';
import { cacheComplete, cacheRoot, checkPrerequisites, PrerequisiteError } from '../../testkit/emulators/prerequisites.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** DynamoDB Local's endpoint for this test run, e.g. `http://127.0.0.1:41234`. */
    dynamoEndpoint: string;
  }
}

const say = (line: string): void => void process.stderr.write(`[test setup] ${line}\n`);

/** Runs `step`, then prints `label` with its time in seconds. */
async function timed<T>(label: (result: T) => string, step: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await step();
  say(`${label(result)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

/** Steps 1 and 2 of the module comment; exported for the prerequisite tests. */
export async function prepareTestMachine(log: (line: string) => void = say, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const kafkaCached = cacheComplete(kafkaCacheDir());
  const found = await timed(
    (p) => `prerequisites: java ${p.java ?? '?'}, python3 ${p.python?.version ?? '?'}${kafkaCached ? '' : ', mvn'}; cache ${cacheRoot()}`,
    () =>
      checkPrerequisites({
        java: true,
        mvn: !kafkaCached,
        python3: true,
        pip: (python) => !cacheComplete(motoCacheDir(python.version)),
        env,
      }),
  );
  await timed(
    (dir) => `kafka ${KAFKA_VERSION}: jars in ${dir}`,
    () => ensureKafkaJars(KAFKA_VERSION, kafkaCacheDir(), log),
  );
  await timed(
    (install) => `moto: installed in ${install.dir}`,
    () => ensureMoto({ ...(found.python === undefined ? {} : { python: found.python.executable }), log }),
  );
}

/** What one start of the test machine leaves running, shared by the projects that declare this setup. */
interface SharedMachine {
  users: number;
  readonly dynamo: Promise<{ readonly endpoint: string; stop(): Promise<void> }>;
}

// Vitest runs this file once per project that declares it (integration and chaos), possibly each
// in its own module runner: the one shared instance is therefore kept on globalThis, so a full run
// checks and fetches once and starts one DynamoDB Local, stopped by the last project's teardown.
const SHARED = Symbol.for('msk-s3-sink.test-machine');
type WithShared = typeof globalThis & { [SHARED]?: SharedMachine };

async function startMachine(): Promise<{ readonly endpoint: string; stop(): Promise<void> }> {
  try {
    await prepareTestMachine();
  } catch (err) {
    if (err instanceof PrerequisiteError) {
      // One line, no stack: the message says what to install.
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // A loaded machine (parallel test runs, a busy CI) can take far longer than the usual 3 s.
  return timed(
    (d) => `DynamoDB Local: ${d.endpoint}`,
    () => startDynamoDbLocal({ startTimeoutMs: 180_000 }),
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const global = globalThis as WithShared;
  let shared = global[SHARED];
  if (shared === undefined) {
    shared = { users: 0, dynamo: startMachine() };
    global[SHARED] = shared;
  }
  shared.users += 1;
  const machine = shared;
  const dynamo = await machine.dynamo;
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    machine.users -= 1;
    if (machine.users > 0) return;
    delete global[SHARED];
    await dynamo.stop();
  };
}
