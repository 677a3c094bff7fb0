/**
 * Local mode's report: reads S3 and the ledger back, checks them against what went in, and prints
 * the summary, the failures by cause, the faults injected, the ledger, the first objects, a sample,
 * the verification and the timings; with --keep, where the data is on disk and how to look at it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Chaos } from './chaos.ts';
import type { HandlerOutput, Stats, StreamRun } from './invoke.ts';
import { BUCKET, type Compression, DEAD_LETTER_PREFIX, type Options, PREFIX, TABLE } from './options.ts';
import { count, out, plural, seconds, size, table } from './output.ts';
import { stopAll } from './resources.ts';
import { formatOf, listObjects, parquetRows, plain, rawSeparator, rawValues, readBytes } from '../testkit/read-objects.ts';
import { type Expected, readLedger, verifyDelivery } from '../testkit/verify-delivery.ts';

/** What a run has done by the time everything is read back. */
export interface RunFacts {
  readonly options: Options;
  readonly s3: S3Client;
  readonly dynamoDb: DynamoDBClient;
  readonly expected: Expected;
  /** Object keys a reused bucket held before this run. */
  readonly keptBefore: ReadonlySet<string>;
  readonly handlerOutput: HandlerOutput;
  readonly stats: Stats;
  readonly streamRun: StreamRun | undefined;
  readonly sourceRecords: number;
  readonly sourceBytes: number;
  readonly chaos: Chaos | undefined;
  /** performance.now() at the start, when the handler was ready, and DynamoDB Local's start-up time. */
  readonly started: number;
  readonly ready: number;
  readonly dynamoMs: number;
}

/** Reads back, checks and prints the report; returns the exit code (0: every record exactly once). */
export async function report(facts: RunFacts): Promise<number> {
  const { options, s3, dynamoDb, expected, keptBefore, handlerOutput, stats, streamRun, sourceRecords, sourceBytes, chaos } = facts;
  const { started, ready, dynamoMs } = facts;

  // Read everything back.
  const invoked = performance.now();
  const objects = await listObjects(s3, BUCKET, PREFIX);
  const deadLetters = await listObjects(s3, BUCKET, DEAD_LETTER_PREFIX);
  const ledger = await readLedger(dynamoDb, TABLE);
  const separator = rawSeparator(process.env['SINK_RAW_SEPARATOR']);
  const result = await verifyDelivery(s3, { bucket: BUCKET, objects, deadLetters, expected, ledger, separator });
  const objectBytes = objects.reduce((n, o) => n + o.size, 0);
  const newObjects = objects.filter((o) => !keptBefore.has(o.key));
  const newObjectBytes = newObjects.reduce((n, o) => n + o.size, 0);
  const newDeadLetters = deadLetters.filter((o) => !keptBefore.has(o.key));
  const keptObjects = objects.length - newObjects.length;
  const keptNote = keptObjects > 0 ? ` (${count(keptObjects)} kept from earlier runs)` : '';
  const readBack = performance.now() - invoked;
  const metric = (name: string): string => (handlerOutput.metrics.has(name) ? count(handlerOutput.metrics.get(name)!) : '?');

  out();
  out('Summary');
  const failedTotal = stats.errors + stats.crashes + stats.partial;
  const failedDetail = [
    stats.errors > 0 ? plural(stats.errors, 'error') : '',
    stats.crashes > 0 ? plural(stats.crashes, 'crash').replace('crashs', 'crashes') : '',
    stats.partial > 0 ? `${count(stats.partial)} partial` : '',
  ].filter((x) => x !== '');
  table([
    [
      'invocations',
      `${count(stats.invocations)} (${count(stats.ok - stats.partial)} ok, ${count(failedTotal)} failed and retried${failedDetail.length > 0 ? `: ${failedDetail.join(', ')}` : ''})`,
    ],
    ...(streamRun === undefined
      ? []
      : [
          [
            'batches',
            `${count(streamRun.batches)} (closed: ${[...streamRun.closedBy].map(([why, n]) => `${count(n)} ${why}`).join(', ')}; ${seconds(streamRun.virtualMs)} of virtual time)`,
          ],
        ]),
    [
      'records in',
      `${count(sourceRecords)} from the source, ${count(result.expected)} to deliver; ${count(stats.records + stats.failedRecords)} handed to the handler (redeliveries included)`,
    ],
    ['bytes in', `${size(sourceBytes)} of keys and values; ${size(stats.payloadBytes)} of event payloads (JSON)`],
    ['records out', `${count(result.delivered)} lines in S3`],
    ['bytes out', `${size(objectBytes)} in objects (${options.compression}), ${size(result.linesBytes)} decompressed`],
    ['objects written', `${count(newObjects.length)}, ${size(newObjectBytes)} (${options.compression})${keptNote}`],
    [
      'duplicates skipped',
      `${metric('DuplicatesSkipped')} (records the handler received again and dropped, per its DuplicatesSkipped metric; ${metric('ObjectsAdopted')} objects adopted)`,
    ],
    [
      'dead letters',
      `${count(newDeadLetters.length)}${deadLetters.length > 0 ? ` (s3://${BUCKET}/${DEAD_LETTER_PREFIX}${deadLetters.length > newDeadLetters.length ? `; ${count(deadLetters.length - newDeadLetters.length)} kept from earlier runs` : ''})` : ''}`,
    ],
  ]);
  if (stats.failures.size > 0) {
    out();
    out('Failed invocations, by cause');
    table(
      [...stats.failures]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([text, n]) => [String(n), text.length > 150 ? `${text.slice(0, 150)}…` : text]),
    );
  }
  if (chaos !== undefined) {
    out();
    out(`Faults injected (--chaos-seed ${options.chaos!.seed}): ${count(chaos.total())}`);
    table([...chaos.injected].sort((a, b) => a[0].localeCompare(b[0])).map(([name, n]) => [name, count(n)]));
    const hidden = [...handlerOutput.hiddenLogs].map(([level, n]) => `${count(n)} ${level}`).join(', ');
    if (hidden !== '') out(`  (the handler's log lines are not shown under --chaos: ${hidden})`);
  }

  out();
  out(`Ledger (DynamoDB table ${TABLE})`);
  table([
    ['topic-partition', 'generation', 'committed offset', 'last object key'],
    ...ledger.map((e) => [e.id, e.generation, e.committedOffset, e.lastObjectKey]),
  ]);

  const shown = objects.slice(0, 5);
  out();
  out(`Objects (first ${shown.length} of ${count(objects.length)}, s3://${BUCKET}/${PREFIX})`);
  const rows = [['key', 'size', 'records', 'offsets', 'generation', 'content-type']];
  for (const object of shown) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object.key }));
    const meta = head.Metadata ?? {};
    rows.push([
      object.key,
      size(object.size),
      meta['record-count'] ?? '?',
      `${meta['first-offset'] ?? '?'}-${meta['last-offset'] ?? '?'}`,
      meta['generation'] ?? '?',
      head.ContentType ?? '-',
    ]);
  }
  table(rows);

  const sample = objects.find((o) => o.key.includes('/sim.')) ?? objects[0];
  if (sample !== undefined) {
    out();
    out(
      `Sample: first 3 ${formatOf(sample.key) === 'parquet' ? 'rows' : 'lines'} of ${sample.key}${options.compression === 'none' || formatOf(sample.key) === 'parquet' ? '' : ' (decompressed)'}`,
    );
    for (const line of await sampleLines(s3, sample.key, separator)) out(`  ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`);
  }

  out();
  out('Verification (every object listed, fetched, decompressed and parsed; compared with what went in)');
  table([
    ['topic-partition', 'expected', 'delivered'],
    ...[...result.perPartition]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([id, n]) => [id, String(n.expected), String(n.delivered)]),
  ]);
  out(`records delivered: ${result.delivered} (expected ${result.expected}), duplicates: ${result.duplicates}`);
  out(
    `missing: ${result.missing}, unexpected: ${result.unexpected}, out of order: ${result.outOfOrder}, ` +
      `values differing: ${result.valueMismatches}, ledger mismatches: ${result.ledgerMismatches.length}`,
  );
  for (const mismatch of result.ledgerMismatches) out(`  ${mismatch}`);
  if (result.superseded > 0) out(`superseded by a replay (not counted): ${result.superseded} line(s) of earlier generations`);
  out(`lost: ${result.missing}, duplicated: ${result.duplicates}`);
  const ok = result.ok();
  out(ok ? 'OK: every record delivered exactly once' : 'FAILED: the delivered records do not match the input');

  if (options.keep !== undefined) {
    await stopAll(); // flushes the S3 emulator's disk writes and closes DynamoDB Local's database
    await printKept(options.keep, sample?.key, options.compression);
  }
  out();
  out(
    `wall time ${seconds(performance.now() - started)} (start-up ${seconds(ready - started)}, of which DynamoDB Local ${seconds(dynamoMs)}; ` +
      `invocations ${seconds(invoked - ready)}; read-back and check ${seconds(readBack)})`,
  );
  return ok ? 0 : 1;
}

async function printKept(dir: string, sampleKey: string | undefined, compression: Compression): Promise<void> {
  const objectsDir = join(dir, 's3', 'buckets', BUCKET, 'objects');
  const dynamoFiles = await readdir(join(dir, 'dynamodb')).catch(() => [] as string[]);
  out();
  out(`Kept in ${dir}:`);
  out(`  ${join(dir, 's3')}        the S3 emulator's data: objects/<sha256(key)>.json holds an object's key and metadata,`);
  out(`  ${' '.repeat(join(dir, 's3').length)}        its "bodyFile" (*.bin) the stored bytes`);
  out(`  ${join(dir, 'dynamodb')}  DynamoDB Local's database (${dynamoFiles.join(', ') || 'empty'})`);
  if (sampleKey === undefined) return;
  const base = createHash('sha256').update(sampleKey, 'utf8').digest('hex');
  const sidecar = JSON.parse(await readFile(join(objectsDir, `${base}.json`), 'utf8')) as { bodyFile: string };
  const body = join(objectsDir, sidecar.bodyFile);
  const cat = compression === 'gzip' ? 'zcat' : compression === 'zstd' ? 'zstd -dc' : 'cat';
  out('Look at it:');
  out(`  grep -ho '"key":"[^"]*"' ${objectsDir}/*.json | sort          # every object key`);
  out(`  grep -l '"key":"${sampleKey}"' ${objectsDir}/*.json   # an object's sidecar`);
  out(`  ${cat} ${body} | head -3`);
  out(`  sqlite3 ${join(dir, 'dynamodb', 'shared-local-instance.db')} 'select cast(ObjectJSON as text) from "${TABLE}"'   # the ledger`);
}

/** The first 3 records of an object as text: JSON Lines lines, Parquet rows as JSON, raw values. */
async function sampleLines(s3: S3Client, key: string, separator: Buffer): Promise<string[]> {
  const body = await readBytes(s3, BUCKET, key);
  if (formatOf(key) === 'parquet') return (await parquetRows(body, 3)).map((row) => JSON.stringify(plain(row)));
  if (formatOf(key) === 'raw') {
    return (rawValues(body, separator) ?? [])
      .slice(0, 3)
      .map((value) => (isUtf8(value) ? value.toString('utf8') : `(binary, base64) ${value.toString('base64')}`));
  }
  return body
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .slice(0, 3);
}
