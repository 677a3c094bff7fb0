import { DuckDBInstance } from '@duckdb/node-api';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/**
 * The objects as a downstream reader sees them: DuckDB (an independent engine, from the npm
 * registry) reads what the sink wrote — JSON Lines picked by extension (.gz, .zst), Parquet with
 * Hive-style time directories, raw bytes — and finds every record once, with its value.
 */
describe('an independent reader (DuckDB) reads the objects', () => {
  let root: string;
  let db: Awaited<ReturnType<typeof DuckDBInstance.create>>;
  const topic = 'reader.orders';
  const logs = [0, 1].map((partition) =>
    generateLog({ topic, partition, count: 120, random: rng(7 + partition), textRate: 0, gapRate: 0.1 }).filter((r) => r.kind === 'json'),
  );
  const expected = logs.flat().length;

  /** Delivers the logs with these settings and writes the objects to disk under their keys. */
  const deliver = async (name: string, env: Record<string, string>) => {
    const store = new MemoryObjectStore();
    const sink = createSink({
      config: testConfig(env),
      ports: { ledger: new MemoryLedger(), store, clock: new ManualClock() },
      logger: silentLogger,
      metrics: silentMetrics,
    });
    for (let start = 0; start < 120; start += 25) {
      await sink.handle(toKafkaEvent(logs.map((records, partition) => ({ topic, partition, records: records.slice(start, start + 25) }))));
    }
    const dir = join(root, name);
    for (const [key, object] of store.objects) {
      await mkdir(dirname(join(dir, key)), { recursive: true });
      await writeFile(join(dir, key), object.body);
    }
    return { dir, keys: [...store.objects.keys()] };
  };

  const query = async (sql: string) => {
    const connection = await db.connect();
    return (await connection.runAndReadAll(sql)).getRowObjectsJson();
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'duckdb-readback-'));
    db = await DuckDBInstance.create(':memory:');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['gzip', '.jsonl.gz'],
    ['zstd', '.jsonl.zst'],
    ['none', '.jsonl'],
  ])('JSON Lines, %s: every record once, value fields queryable', async (compression, extension) => {
    const { dir, keys } = await deliver(`jsonl-${compression}`, { SINK_COMPRESSION: compression });
    expect(keys.every((key) => key.endsWith(extension))).toBe(true);
    const [row] = await query(
      `select count(*) as n, count(distinct (partition, "offset")) as distinct_offsets, count(distinct value.id) as ids
       from read_json_auto('${dir}/topics/**/*${extension}', format = 'newline_delimited')`,
    );
    expect(row).toEqual({ n: String(expected), distinct_offsets: String(expected), ids: String(expected) });
  });

  it('Parquet in Hive-style hourly directories: every record once, partition columns from the path', async () => {
    const { dir, keys } = await deliver('parquet', { SINK_FORMAT: 'parquet', SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '40' });
    expect(keys.every((key) => /\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.parquet$/.test(key))).toBe(true);
    const [row] = await query(
      `select count(*) as n, count(distinct (kafka_partition, kafka_offset)) as distinct_offsets, count(distinct id) as ids,
              min(year) as year
       from read_parquet('${dir}/topics/**/*.parquet', hive_partitioning = true)`,
    );
    expect(row).toEqual({ n: String(expected), distinct_offsets: String(expected), ids: String(expected), year: '2025' });
  });

  it('raw bytes: one value per line', async () => {
    const { dir } = await deliver('raw', { SINK_FORMAT: 'raw', SINK_COMPRESSION: 'gzip' });
    const [row] = await query(
      `select count(*) as n from read_csv('${dir}/topics/**/*.bin.gz', columns = {'line': 'VARCHAR'}, delim = '\\x01', quote = '', escape = '', header = false, compression = 'gzip')`,
    );
    expect(row).toEqual({ n: String(expected) });
  });
});
