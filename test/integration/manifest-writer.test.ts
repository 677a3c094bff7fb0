import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureOutput } from '../support/capture-output.ts';
import { lambdaContext } from '../../testkit/lambda-context.ts';
import {
  createEmulatorSink,
  createTestLedgerTable,
  type LedgerTableForTest,
  type S3ForTest,
  startS3ForTest,
} from '../support/emulators.ts';
import { timedLog } from '../../testkit/kafka/generate.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';

/**
 * The scheduled manifest writer, `functions/manifest-writer/handler.ts`, as Lambda runs it:
 * configuration from the environment at cold start (the sink's SINK_* settings and MANIFEST_*),
 * an EventBridge scheduled event, the emulators behind the AWS endpoint variables.
 */
describe('manifest writer (functions/manifest-writer/handler.ts) on the emulators', () => {
  let s3: S3ForTest;
  let ledger: LedgerTableForTest;
  let handler: (event: ScheduledEvent, context: Context) => Promise<unknown>;
  let output: string[] = [];
  const layoutEnv = { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '4' };
  const T0 = Date.UTC(2026, 10, 26, 10);
  const context = lambdaContext('msk-s3-sink-manifests');
  const scheduled: ScheduledEvent = {
    version: '0',
    id: 'a1b2c3d4-0000-0000-0000-000000000000',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-11-26T12:05:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/msk-s3-sink-manifests'],
    detail: {},
  };

  /** A record every 10 minutes from 10:00 on each partition. */
  const records = (topic: string, partition: number, count: number) => timedLog(topic, partition, count, T0, 10 * 60_000);

  const keys = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((object) => object.Key!);
  const dataKeys = async () => (await keys()).filter((key) => !key.split('/').at(-1)!.startsWith('_'));
  const manifestKeys = async () => (await keys()).filter((key) => key.endsWith('/_manifest.json')).sort();

  beforeAll(async () => {
    s3 = await startS3ForTest();
    ledger = await createTestLedgerTable('manifest-writer');
    const sink = createEmulatorSink(s3, ledger, layoutEnv);
    // hourly (2 partitions declared): partitions 0 and 1 up to 13:10 and 11:40.
    // daily: one partition up to 13:10, its partition count not declared.
    await sink.handle(
      toKafkaEvent([
        { topic: 'hourly', partition: 0, records: records('hourly', 0, 20) },
        { topic: 'hourly', partition: 1, records: records('hourly', 1, 11) },
        { topic: 'daily', partition: 0, records: records('daily', 0, 20) },
      ]),
    );

    vi.stubEnv('SINK_BUCKET', s3.bucket);
    vi.stubEnv('LEDGER_TABLE', ledger.tableName);
    for (const [name, value] of Object.entries(layoutEnv)) vi.stubEnv(name, value);
    vi.stubEnv('MANIFEST_TOPICS', 'hourly,daily');
    vi.stubEnv('MANIFEST_TOPIC_PARTITIONS', 'hourly:2');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', ledger.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    output = captureOutput();
    type Handler = typeof import('../../functions/manifest-writer/handler.ts')['handler'];
    const deployed: Handler = (await import('../../functions/manifest-writer/handler.ts')).handler;
    handler = (event, lambdaContext) => deployed(event, lambdaContext);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await s3?.stop();
  });

  it('writes the manifest of every time partition all partitions have passed', async () => {
    // Every data object examined once.
    await expect(handler(scheduled, context)).resolves.toMatchObject({
      written: 4,
      existing: 0,
      failed: [],
      examined: (await dataKeys()).length,
      backlog: 0,
    });
    expect(await manifestKeys()).toEqual([
      // daily: its one known partition passed 10:00-13:00 (13:00 waits for 14:00).
      'topics/daily/year=2026/month=11/day=26/hour=10/_manifest.json',
      'topics/daily/year=2026/month=11/day=26/hour=11/_manifest.json',
      'topics/daily/year=2026/month=11/day=26/hour=12/_manifest.json',
      // hourly: partition 1 reached 11:40, so only 10:00 is complete.
      'topics/hourly/year=2026/month=11/day=26/hour=10/_manifest.json',
    ]);
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: 'topics/hourly/year=2026/month=11/day=26/hour=10/_manifest.json' }),
    );
    expect(object.ContentType).toBe('application/json');
    const document = JSON.parse(Buffer.from(await object.Body!.transformToByteArray()).toString('utf8'));
    expect(document).toMatchObject({ topic: 'hourly', start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T11:00:00.000Z', graceMs: 0 });
    expect(document.partitions.map((p: { partition: number; recordCount: number }) => [p.partition, p.recordCount])).toEqual([
      [0, 6],
      [1, 6],
    ]);
  });

  it('examines and writes nothing on the next run: a cursor per partition in a state object per topic', async () => {
    const before = await Promise.all(
      (await manifestKeys()).map(async (Key) => (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }))).ETag),
    );
    await expect(handler(scheduled, context)).resolves.toMatchObject({ written: 0, existing: 0, examined: 0, backlog: 0, failed: [] });
    expect((await keys()).filter((key) => key.endsWith('/_manifest-state.json')).sort()).toEqual([
      'topics/daily/_manifest-state.json',
      'topics/hourly/_manifest-state.json',
    ]);
    const after = await Promise.all(
      (await manifestKeys()).map(async (Key) => (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }))).ETag),
    );
    expect(after).toEqual(before);
  });

  it('examines only what was written since, and writes what became due', async () => {
    // hourly partition 1 catches up to 13:10: hours 11 and 12 become complete.
    const sink = createEmulatorSink(s3, ledger, layoutEnv);
    const before = new Set(await dataKeys());
    await sink.handle(toKafkaEvent([{ topic: 'hourly', partition: 1, records: records('hourly', 1, 20).slice(11) }]));
    const added = (await dataKeys()).filter((key) => !before.has(key));
    expect(added.length).toBeGreaterThan(0);
    await expect(handler(scheduled, context)).resolves.toMatchObject({ written: 2, examined: added.length, backlog: 0, failed: [] });
    expect((await manifestKeys()).filter((key) => key.startsWith('topics/hourly/'))).toEqual([
      'topics/hourly/year=2026/month=11/day=26/hour=10/_manifest.json',
      'topics/hourly/year=2026/month=11/day=26/hour=11/_manifest.json',
      'topics/hourly/year=2026/month=11/day=26/hour=12/_manifest.json',
    ]);
  });

  it('logs the counts and emits ManifestsWritten, ManifestBacklog and ManifestWriterFailures as EMF metrics', () => {
    const text = output.join('\n');
    expect(text).toContain('Manifests written');
    for (const metric of ['ManifestsWritten', 'ManifestObjectsExamined', 'ManifestBacklog', 'ManifestWriterFailures'])
      expect(text).toContain(`"${metric}"`);
    expect(text).toContain('"MskS3Sink"');
  });
});
