import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { writeProperties } from '../fixtures/standalone/harness.ts';
import { runCliCaptured } from '../support/cli.ts';

/**
 * `msk-s3-sink <command> --config FILE`: the bucket, the prefixes, the layout and the ledger come
 * from a standalone worker's own file; flags win over it, and it wins over the SINK_* variables.
 * S3 is mocked (the inputs of the listings show which bucket and prefixes were used); the walk
 * through with a real worker is test/integration/standalone-replay.test.ts.
 */
const NOW = Date.UTC(2026, 0, 1, 0, 1);
const s3 = mockClient(S3Client);

let dir: string;
/** The worker's file, in its own directory: offset.storage.file.filename is relative to it. */
let workerFile: string;
let ledgerPath: string;
let otherLedgerPath: string;

const workerKeys = {
  name: 'orders-sink',
  'bootstrap.servers': 'localhost:9092',
  topics: 'orders',
  'group.id': 'orders-sink',
  // Secrets the operator's shell need not have: the commands do not read the Kafka keys.
  'security.protocol': 'SASL_SSL',
  'sasl.mechanism': 'SCRAM-SHA-512',
  'sasl.username': 'sink',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka Connect's ${env:NAME} config provider syntax, not a template
  'sasl.password': '${env:SINK_KAFKA_PASSWORD}',
  'ssl.ca.location': 'missing-ca.pem',
  's3.bucket.name': 'worker-bucket',
  's3.region': 'eu-west-1',
  'topics.dir': 'raw',
  'errors.deadletterqueue.s3.prefix': 'parked',
  'offset.storage.file.filename': 'orders.offsets.json',
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-cli-config-'));
  mkdirSync(join(dir, 'worker'));
  workerFile = join(dir, 'worker', 'worker.properties');
  ledgerPath = join(dir, 'worker', 'orders.offsets.json');
  otherLedgerPath = join(dir, 'other.offsets.json');
  writeProperties(workerFile, workerKeys);
  for (const [path, committedOffset] of [
    [ledgerPath, 99],
    [otherLedgerPath, 7],
  ] as const) {
    const ledger = FileOffsetLedger.open(path);
    await ledger.advance(undefined, {
      topic: 'orders',
      partition: 0,
      generation: 0,
      committedOffset,
      lastObjectKey: 'raw/orders/partition=0/orders+0+00000000000000000000.jsonl.gz',
      lastRecordCount: committedOffset + 1,
      updatedAt: '2026-01-01T00:00:00.000Z',
    });
    await ledger.close();
  }
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'x');
});
afterEach(() => s3.reset());
afterAll(() => {
  s3.restore();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (argv: string[], env: Record<string, string> = {}) => runCliCaptured(argv, env, () => NOW);

/** verify on an empty bucket, returning the bucket and prefixes it listed. */
const listed = async (argv: string[], env: Record<string, string> = {}) => {
  s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
  const result = await cli(['verify', '--json', ...argv], env);
  const calls = s3
    .commandCalls(ListObjectsV2Command)
    .map((call) => ({ bucket: call.args[0].input.Bucket, prefix: call.args[0].input.Prefix }));
  s3.reset();
  return { ...result, calls };
};

/** The shell of an operator of the Lambda deployment: every variable points elsewhere. */
const lambdaShell = {
  SINK_BUCKET: 'env-bucket',
  SINK_PREFIX: 'env-topics/',
  SINK_DEAD_LETTER_PREFIX: 'env-dead/',
  SINK_PARTITIONER: 'time',
};

describe('msk-s3-sink --config: the context from a worker file', () => {
  it('takes the ledger file from offset.storage.file.filename, relative to the worker file', async () => {
    const byConfig = await cli(['status', '--config', workerFile, '--json']);
    expect(byConfig.code, byConfig.stderr).toBe(0);
    expect(byConfig.json()).toMatchObject([{ topic: 'orders', partition: 0, committedOffset: 99 }]);
    expect(byConfig.json()).toEqual((await cli(['status', '--ledger-file', ledgerPath, '--json'])).json());
    expect((await cli(['status', '--config', workerFile])).stdout).toContain('orders  0          0           99');
  });

  it('takes the bucket and the prefixes from s3.bucket.name, topics.dir and errors.deadletterqueue.s3.prefix', async () => {
    const { stdout, stderr, calls } = await listed(['--config', workerFile]);
    // The bucket is empty: verify ran, and finds the ledger's records missing.
    expect(JSON.parse(stdout || '{}'), stderr).toMatchObject({ objectsScanned: 0, errors: 1 });
    expect(new Set(calls.map((c) => c.bucket))).toEqual(new Set(['worker-bucket']));
    expect(calls.map((c) => c.prefix).sort()).toEqual(['parked/', 'raw/']);
  });

  it('the flags win over the file, and the file over the SINK_* and LEDGER_* variables', async () => {
    const shell = { ...lambdaShell, LEDGER_FILE: otherLedgerPath };
    // The file over the variables.
    expect((await cli(['status', '--config', workerFile, '--json'], shell)).json()).toMatchObject([{ committedOffset: 99 }]);
    const fromFile = await listed(['--config', workerFile], shell);
    expect(fromFile.calls.map((c) => [c.bucket, c.prefix]).sort()).toEqual([
      ['worker-bucket', 'parked/'],
      ['worker-bucket', 'raw/'],
    ]);
    // The flags over the file.
    expect((await cli(['status', '--config', workerFile, '--ledger-file', otherLedgerPath, '--json'])).json()).toMatchObject([
      { committedOffset: 7 },
    ]);
    const fromFlags = await listed([
      '--config',
      workerFile,
      '--bucket',
      'flag-bucket',
      '--prefix',
      'flag',
      '--dead-letter-prefix',
      'flag-dead/',
    ]);
    expect(fromFlags.calls.map((c) => [c.bucket, c.prefix]).sort()).toEqual([
      ['flag-bucket', 'flag-dead/'],
      ['flag-bucket', 'flag/'],
    ]);
    // --table over the file's ledger file: replay then goes on to its own checks (it refuses ledger files).
    const replay = ['replay', '--config', workerFile, '--topic', 'orders', '--to-offset', '5', '--reason', 'r'];
    expect((await cli(replay)).stderr).toContain('a standalone worker with a ledger file replays in three steps');
    expect((await cli([...replay, '--table', 'sink-ledger'])).stderr).toContain('replay needs --function');
  });

  it('names the DynamoDB ledger when the file does (ledger.table)', async () => {
    const tableFile = join(dir, 'worker', 'table.properties');
    const { 'offset.storage.file.filename': _, ...rest } = workerKeys;
    writeProperties(tableFile, { ...rest, 'ledger.table': 'orders-ledger' });
    const replay = await cli(['replay', '--config', tableFile, '--topic', 'orders', '--to-offset', '5', '--reason', 'r']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain('replay needs --function');
  });

  it('takes the layout from the file, not from SINK_PARTITIONER', async () => {
    const manifest = await cli(['manifest', '--config', workerFile, '--topic', 'orders'], { ...lambdaShell, LEDGER_FILE: otherLedgerPath });
    expect(manifest.code).toBe(1);
    expect(manifest.stderr).toContain('completeness markers need the time partitioner');
  });

  it('reports a bad file with every problem (exit 2), as the worker does', async () => {
    const bad = join(dir, 'bad.properties');
    writeProperties(bad, {
      ...workerKeys,
      'topics.dir': 'data',
      'errors.deadletterqueue.s3.prefix': 'data/dead',
      'partitioner.class': 'Weekly',
    });
    const result = await cli(['status', '--config', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: Invalid standalone configuration (${bad}):`);
    expect(result.stderr).toMatch(/- partitioner\.class: one of /);
    const missing = await cli(['status', '--config', join(dir, 'nope.properties')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the file');
  });

  it('the usage text documents the option', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toContain("--config FILE               a standalone worker's .properties or JSON file");
    expect(help.stdout).toContain("or from a worker's file with --config");
  });
});
