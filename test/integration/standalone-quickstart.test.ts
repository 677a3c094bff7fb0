/**
 * The standalone quick start (docs/standalone.md), step by step: `npm run kafka` (local/kafka.ts, a real
 * broker), `npm run kafka:produce` (local/produce.ts), the worker through the real CLI
 * (`bin/msk-s3-sink.mjs standalone`) on a verbatim copy of examples/quickstart.properties, a
 * SIGKILL, more records, a restart, `status --bootstrap-servers`, SIGTERM, `verify --read`; then
 * S3 read back record by record. The one stand-in: the S3 emulator is started in-process (the
 * page starts the same emulator from an inline script that writes under the checkout).
 *
 * It also checks what the worker says while it joins the group: "Joining" and "Joined" with the
 * assignment, the stale lock it takes over, and the wait for the killed worker's member.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, emulatorEnv, startWorker, type WorkerProcess } from '../fixtures/standalone/harness.ts';
import { ROOT } from '../support/child.ts';
import { startS3ForTest, type S3ForTest } from '../support/emulators.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import { until } from '../../testkit/wait.ts';

const TOPIC = 'orders';
const GROUP = 'orders-s3-sink';
const PARTITIONS = [0, 1, 2, 3];

/** The quick start's commands, as docs/standalone.md has them (checked below against the page). */
const COMMANDS = [
  'npm run kafka',
  'mkdir -p quickstart && cp examples/quickstart.properties quickstart/worker.properties',
  'npm run kafka:produce -- --topic orders --partitions 4 --records 1000',
  'node_modules/.bin/node bin/msk-s3-sink.mjs standalone quickstart/worker.properties &',
  'kill -KILL $!',
  'node_modules/.bin/node bin/msk-s3-sink.mjs standalone quickstart/worker.properties &',
  'npm run kafka:produce -- --topic orders --records 1000',
  'npx msk-s3-sink status --config quickstart/worker.properties --bootstrap-servers $KAFKA_BOOTSTRAP_SERVERS',
  'kill -TERM $!',
  'npx msk-s3-sink verify --config quickstart/worker.properties --read',
];

let kafka: ChildProcess | undefined;
let bootstrap: string;
let s3: S3ForTest;
let dir: string;
const workers: WorkerProcess[] = [];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node <args>` in the repository root with the quick start's environment. */
function node(args: readonly string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  // `npm run kafka` is `tsx local/kafka.ts`: the same program, on this test's Node.
  kafka = spawn(process.execPath, ['--import', 'tsx', 'local/kafka.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  kafka.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  kafka.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  s3 = await startS3ForTest({ bucket: 'my-sink-bucket' });
  dir = mkdtempSync(join(tmpdir(), 'standalone-quickstart-'));
  await until(
    'npm run kafka to print its bootstrap address',
    () => {
      if (kafka!.exitCode !== null) throw new Error(`local/kafka.ts exited early:\n${stderr}`);
      return /bootstrap\.servers=127\.0\.0\.1:\d+\n/.test(stdout);
    },
    170_000,
  );
  bootstrap = /bootstrap\.servers=(\S+)/.exec(stdout)![1]!;
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  if (kafka && kafka.exitCode === null) {
    // Ctrl-C, as the quick start says: the broker stops and its files go.
    const exited = once(kafka, 'exit');
    kafka.kill('SIGINT');
    await exited;
  }
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the standalone quick start (docs/standalone.md)', () => {
  it('has the commands this test runs, in this order', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'standalone.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**Quick start**'), readme.indexOf('**Keys**'));
    const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap((block) => block[1]!.split('\n'))
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // Each command after the one before it (the worker's start comes twice).
    let from = 0;
    const missing = COMMANDS.filter((command) => {
      const at = lines.indexOf(command, from);
      if (at < 0) return true;
      from = at + 1;
      return false;
    });
    expect(missing, `docs/standalone.md quick start lines:\n${lines.join('\n')}`).toEqual([]);
  });

  it('produce, run, SIGKILL, produce, restart, status, SIGTERM, verify: every record in S3 exactly once', async () => {
    const env = { ...emulatorEnv(s3.endpoint), KAFKA_BOOTSTRAP_SERVERS: bootstrap };
    mkdirSync(join(dir, 'quickstart'));
    const config = join(dir, 'quickstart', 'worker.properties');
    copyFileSync(join(ROOT, 'examples', 'quickstart.properties'), config);
    const ledgerPath = join(dir, 'quickstart', 'orders.offsets.json');
    const committed = (): Map<number, number> => {
      if (!existsSync(ledgerPath)) return new Map();
      const file = JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<{ partition: number; committedOffset: number }> };
      return new Map(file.entries.map((e) => [e.partition, e.committedOffset]));
    };
    const produce = async (args: readonly string[]) => {
      const run = await node(['--import', 'tsx', 'local/produce.ts', ...args], env);
      expect(run.code, run.stderr).toBe(0);
      return run;
    };

    // 1. Records: the topic is created with 4 partitions, 250 records each.
    const first = await produce(['--topic', TOPIC, '--partitions', '4', '--records', '1000']);
    expect(first.stderr).toContain(`produce: created topic ${TOPIC} with 4 partitions`);
    expect(first.stdout).toBe(PARTITIONS.map((p) => `${TOPIC}-${p}: offsets 0..249\n`).join(''));

    // 2. The worker joins the group, says so, and delivers.
    const worker = startWorker('quickstart-1', config, env);
    workers.push(worker);
    const joined = await worker.waitForLog((l) => l['message'] === 'Joined the consumer group', 60_000);
    expect(worker.logs.find((l) => l['message'] === 'Joining the consumer group')).toMatchObject({
      groupId: GROUP,
      sessionTimeoutMs: 10_000,
    });
    expect(joined).toMatchObject({ groupId: GROUP, assignments: [{ topic: TOPIC, partitions: PARTITIONS }] });
    // A new group: nobody to wait for.
    expect(worker.logs.some((l) => String(l['message']).startsWith("Waiting for the consumer group's members"))).toBe(false);
    await worker.waitForLog((l) => l['message'] === 'Flushed' && Number(l['records']) > 0, 60_000);

    // 3. kill -KILL: no leaving the group, the lock left behind.
    worker.child.kill('SIGKILL');
    await worker.exited;
    const atKill = committed();
    expect(atKill.size).toBeGreaterThan(0);

    // 4. At once, the restart: it takes over the lock, waits for the killed worker's member, and
    // resumes from the ledger.
    const restarted = startWorker('quickstart-2', config, env);
    workers.push(restarted);
    // 5. More records while it restarts: round-robin, so 250 more on each partition.
    const second = await produce(['--topic', TOPIC, '--records', '1000']);
    expect(second.stderr).not.toContain('created topic');
    expect(second.stdout).toBe(PARTITIONS.map((p) => `${TOPIC}-${p}: offsets 250..499\n`).join(''));

    const positioned = await restarted.waitForLog((l) => l['message'] === 'Partitions assigned and positioned', 60_000);
    expect(restarted.logs.find((l) => l['message'] === 'Took over a stale lock of the offset ledger file')).toMatchObject({
      stalePid: worker.child.pid,
      reason: expect.stringMatching(/is not running/),
    });
    const waiting = restarted.logs.find((l) => String(l['message']).startsWith("Waiting for the consumer group's members"));
    expect(waiting, JSON.stringify(restarted.logs.slice(0, 8))).toMatchObject({
      message: expect.stringContaining('up to session.timeout.ms (10000 ms here)'),
      groupId: GROUP,
      sessionTimeoutMs: 10_000,
      members: [expect.objectContaining({ memberId: joined['memberId'] })],
    });
    const order = [
      'Took over a stale lock of the offset ledger file',
      'Joining the consumer group',
      waiting!['message'],
      'Joined the consumer group',
    ];
    expect(order.map((m) => restarted.logs.findIndex((l) => l['message'] === m))).toEqual(
      [...order.map((m) => restarted.logs.findIndex((l) => l['message'] === m))].sort((a, b) => a - b),
    );
    expect(restarted.logs.find((l) => l['message'] === 'Joined the consumer group')).toMatchObject({
      groupId: GROUP,
      assignments: [{ topic: TOPIC, partitions: PARTITIONS }],
    });
    for (const p of positioned['partitions'] as Array<{ partition: string; position: number; from: string }>) {
      const partition = Number(p.partition.split('-').pop());
      if (atKill.has(partition)) expect(p).toMatchObject({ position: atKill.get(partition)! + 1, from: 'ledger' });
    }
    await until('the ledger to reach the end of every partition', () => PARTITIONS.every((p) => committed().get(p) === 499), 60_000);

    // 6. status with the cluster: the broker's high-water marks, no lag.
    const status = await node([BIN, 'status', '--config', config, '--bootstrap-servers', bootstrap, '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(
      (JSON.parse(status.stdout) as Array<Record<string, unknown>>).map(({ partition, committedOffset, highWatermark, lag }) => ({
        partition,
        committedOffset,
        highWatermark,
        lag,
      })),
    ).toEqual(PARTITIONS.map((partition) => ({ partition, committedOffset: 499, highWatermark: 500, lag: 0 })));

    // 7. kill -TERM: a clean stop.
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code, restarted.text() + JSON.stringify(restarted.logs.slice(-5))).toBe(0);

    // 8. verify --read agrees; and the independent read-back finds every record once.
    const verified = await node([BIN, 'verify', '--config', config, '--read'], env);
    expect(verified.stdout, verified.stderr).toContain('OK: S3 and the ledger agree');
    expect(verified.code).toBe(0);
    const expected: LogRecord[] = PARTITIONS.flatMap((partition) =>
      Array.from({ length: 500 }, (_, offset) => ({
        topic: TOPIC,
        partition,
        offset,
        timestamp: 0,
        key: Buffer.from(`key-${offset}`),
        value: null,
        kind: 'json' as const,
        headers: [],
      })),
    );
    const result = check(expected, await readDelivered(s3.client, s3.bucket, 'topics/'));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.corrupted).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
    expect(result.delivered).toBe(2000);
  }, 180_000);
});
