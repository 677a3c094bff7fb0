import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli.ts';
import {
  parseJaasConfig,
  readStandaloneConfigFile,
  resolveStandaloneConfig,
  StandaloneConfigError,
} from '../../lib/config/worker-config.ts';
import { parseProperties } from '../../lib/config/properties.ts';

const dir = mkdtempSync(join(tmpdir(), 'standalone-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = {
  'bootstrap.servers': 'localhost:9092',
  topics: 'orders',
  'group.id': 'g',
  's3.bucket.name': 'my-bucket',
  'offset.storage.file.filename': 'offsets.json',
};

function problems(input: Record<string, string>, env: Record<string, string> = {}): string[] {
  try {
    resolveStandaloneConfig(input, env, { baseDir: dir, readFile: (p) => `PEM of ${p}` });
  } catch (error) {
    expect(error).toBeInstanceOf(StandaloneConfigError);
    return [...(error as StandaloneConfigError).problems];
  }
  return [];
}

describe('.properties parsing', () => {
  it('reads separators, comments, continuations and escapes as java.util.Properties does', () => {
    const parsed = parseProperties(
      [
        '# comment',
        '! also a comment',
        'a=1',
        'b : two words ',
        'c three',
        'd=line \\',
        '   continued',
        'e=x\\=y\\u0041\\\\',
        '  f = spaced',
        '',
      ].join('\n'),
    );
    expect(Object.fromEntries([...parsed].map(([k, v]) => [k, v.value]))).toEqual({
      a: '1',
      b: 'two words ',
      c: 'three',
      d: 'line continued',
      e: 'x=yA\\',
      f: 'spaced',
    });
    expect(parsed.get('d')?.line).toBe(6);
  });

  it('reads the example file', () => {
    const config = readStandaloneConfigFile('examples/standalone.properties', {});
    expect(config).toMatchObject({
      name: 'orders-s3-sink',
      bootstrapServers: ['localhost:9092'],
      topics: { kind: 'list', names: ['orders'] },
      groupId: 'orders-s3-sink',
      flushSize: 1000,
      flushIntervalMs: 10000,
      ledger: { kind: 'file' },
      security: { kind: 'none' },
      sink: { bucket: 'my-sink-bucket', prefix: 'topics/', compression: 'gzip', errorsTolerance: 'all', aws: { region: 'eu-west-1' } },
    });
  });
});

describe('standalone configuration', () => {
  it('maps the keys onto the worker and the sink configuration, with defaults', () => {
    const config = resolveStandaloneConfig(
      { ...minimal, 'topics.dir': 'raw', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' },
      {},
      { baseDir: dir },
    );
    expect(config).toMatchObject({
      groupId: 'g',
      autoOffsetReset: 'earliest',
      flushSize: 1000,
      flushIntervalMs: 10_000,
      ledger: { kind: 'file', path: join(dir, 'offsets.json') },
      sink: { prefix: 'raw/', valueConverter: 'json', format: 'jsonl', deadLetterPrefix: 'dead-letters/' },
    });
  });

  it('reports every problem at once: unknown keys (with a suggestion), unsupported keys, bad values, sink rules', () => {
    const found = problems({
      'bootstrap.servers': 'localhost',
      topics: 'orders',
      'topics.regex': 'o.*',
      'flush.sise': '10',
      'rotate.schedule.interval.ms': '60000',
      'lambda.memory.mb': '512',
      'consumer.auto.offset.reset': 'none',
      's3.bucket.name': 'my-bucket',
      'topics.dir': 'data',
      'errors.deadletterqueue.s3.prefix': 'data/dead',
      'ledger.table': 't1',
      'offset.storage.file.filename': 'x.json',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'flush.sise: unknown key (did you mean flush.size?)',
        expect.stringMatching(/^rotate\.schedule\.interval\.ms: not supported/),
        expect.stringMatching(/^lambda\.memory\.mb: a key of the Lambda deployment/),
        'consumer.auto.offset.reset: earliest or latest',
      ]),
    );
    // Schema errors stop before the cross-key checks; fix them and the rest shows.
    const next = problems({
      'bootstrap.servers': 'localhost',
      topics: 'orders',
      'topics.regex': 'o.*',
      's3.bucket.name': 'my-bucket',
      'topics.dir': 'data',
      'errors.deadletterqueue.s3.prefix': 'data/dead',
      'ledger.table': 't1',
      'offset.storage.file.filename': 'x.json',
    });
    expect(next).toEqual(
      expect.arrayContaining([
        'bootstrap.servers: "localhost" is not host:port',
        'topics, topics.regex: give exactly one of them',
        expect.stringMatching(/^group\.id: required/),
        expect.stringMatching(/^offset\.storage\.file\.filename, ledger\.table: give one of them/),
        expect.stringMatching(/errors\.deadletterqueue\.s3\.prefix "data\/dead\/" must lie outside topics\.dir "data\/"/),
      ]),
    );
  });

  it('reads consumer.metadata.max.age.ms (how often the topics are listed again): 300000 by default, 1000 at least', () => {
    expect(resolveStandaloneConfig(minimal, {}, { baseDir: dir }).metadataMaxAgeMs).toBe(300_000);
    expect(resolveStandaloneConfig({ ...minimal, 'consumer.metadata.max.age.ms': '1000' }, {}, { baseDir: dir }).metadataMaxAgeMs).toBe(
      1_000,
    );
    expect(problems({ ...minimal, 'consumer.metadata.max.age.ms': '999' })).toEqual([
      'consumer.metadata.max.age.ms: Too small: expected number to be >=1000',
    ]);
    expect(problems({ ...minimal, 'consumer.metadata.max.age.ms': '86400001' })).toEqual([
      'consumer.metadata.max.age.ms: Too big: expected number to be <=86400000',
    ]);
    expect(problems({ ...minimal, 'consumer.metadata.max.age.ms': '5m' })).toEqual([
      expect.stringMatching(/^consumer\.metadata\.max\.age\.ms: Invalid input: expected number/),
    ]);
    // Kafka's own name without the consumer. prefix is pointed at the key.
    expect(problems({ ...minimal, 'metadata.max.age.ms': '60000' })).toEqual([
      'metadata.max.age.ms: unknown key (did you mean consumer.metadata.max.age.ms?)',
    ]);
  });

  it('reads task.shutdown.graceful.timeout.ms (the bound on the Kafka side of a stop): 5000 by default, 0 to 600000', () => {
    expect(resolveStandaloneConfig(minimal, {}, { baseDir: dir }).shutdownTimeoutMs).toBe(5_000);
    expect(resolveStandaloneConfig({ ...minimal, 'task.shutdown.graceful.timeout.ms': '0' }, {}, { baseDir: dir }).shutdownTimeoutMs).toBe(
      0,
    );
    expect(
      resolveStandaloneConfig({ ...minimal, 'task.shutdown.graceful.timeout.ms': '600000' }, {}, { baseDir: dir }).shutdownTimeoutMs,
    ).toBe(600_000);
    expect(problems({ ...minimal, 'task.shutdown.graceful.timeout.ms': '-1' })).toEqual([
      'task.shutdown.graceful.timeout.ms: Too small: expected number to be >=0',
    ]);
    expect(problems({ ...minimal, 'task.shutdown.graceful.timeout.ms': '600001' })).toEqual([
      'task.shutdown.graceful.timeout.ms: Too big: expected number to be <=600000',
    ]);
    expect(problems({ ...minimal, 'task.shutdown.graceful.timeout.ms': '1.5' })).toEqual([
      expect.stringMatching(/^task\.shutdown\.graceful\.timeout\.ms: Invalid input: expected int/),
    ]);
    expect(problems({ ...minimal, 'task.shutdown.graceful.timeout.ms': '5s' })).toEqual([
      expect.stringMatching(/^task\.shutdown\.graceful\.timeout\.ms: Invalid input: expected number/),
    ]);
  });

  it('reads consumer.partition.assignment.strategy (cooperative-sticky, then roundrobin, by default; Kafka class names too) and refuses consumer.group.protocol=consumer', () => {
    const strategies = (value?: string) =>
      resolveStandaloneConfig(
        value === undefined ? minimal : { ...minimal, 'consumer.partition.assignment.strategy': value },
        {},
        { baseDir: dir },
      ).assignmentStrategies;
    expect(strategies()).toEqual(['cooperative-sticky', 'roundrobin']);
    expect(strategies('roundrobin')).toEqual(['roundrobin']);
    expect(strategies('org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin, cooperative-sticky')).toEqual([
      'cooperative-sticky',
      'roundrobin',
    ]);
    expect(problems({ ...minimal, 'consumer.partition.assignment.strategy': 'range' })).toEqual([
      expect.stringMatching(
        /^consumer\.partition\.assignment\.strategy: unknown assignor "range" \(cooperative-sticky, roundrobin, or Kafka's/,
      ),
    ]);
    expect(problems({ ...minimal, 'consumer.partition.assignment.strategy': ' , ' })).toEqual([
      'consumer.partition.assignment.strategy: no assignor given',
    ]);
    expect(
      resolveStandaloneConfig({ ...minimal, 'consumer.group.protocol': 'classic' }, {}, { baseDir: dir }).assignmentStrategies,
    ).toHaveLength(2);
    expect(problems({ ...minimal, 'consumer.group.protocol': 'consumer' })).toEqual([
      expect.stringMatching(/^consumer\.group\.protocol: "consumer" \(KIP-848\) is not supported/),
    ]);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka Connect's ${env:NAME} config provider syntax, not a template
  it('defaults group.id to connect-<name>, takes LEDGER_TABLE from the environment, substitutes ${env:...}', () => {
    const { 'group.id': _, 'offset.storage.file.filename': __, ...rest } = minimal;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka Connect's ${env:NAME} config provider syntax, not a template
    const input = { ...rest, name: 'orders', 's3.bucket.name': '${env:BUCKET}' };
    const config = resolveStandaloneConfig(input, { LEDGER_TABLE: 'ledger-x', BUCKET: 'env-bucket' });
    expect(config.groupId).toBe('connect-orders');
    expect(config.ledger).toEqual({ kind: 'dynamodb', table: 'ledger-x' });
    expect(config.sink.bucket).toBe('env-bucket');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Kafka Connect's ${env:NAME} config provider syntax, not a template
    const unset = '${env:NOPE}';
    expect(problems({ ...minimal, 'sasl.password': unset })).toContain(`sasl.password: ${unset} is not set in the environment`);
  });

  it('maps security settings: SCRAM from sasl.jaas.config or plain keys, TLS CA, MSK IAM', () => {
    const jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="sink" password="p;a\\"ss";';
    expect(parseJaasConfig(jaas)).toEqual({
      module: 'org.apache.kafka.common.security.scram.ScramLoginModule',
      options: { username: 'sink', password: 'p;a"ss' },
    });
    const scram = resolveStandaloneConfig(
      {
        ...minimal,
        'security.protocol': 'SASL_SSL',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.jaas.config': jaas,
        'ssl.ca.location': 'ca.pem',
      },
      {},
      { baseDir: dir, readFile: (p) => `PEM of ${p}` },
    );
    expect(scram.security).toEqual({
      kind: 'sasl-scram',
      mechanism: 'SCRAM-SHA-512',
      username: 'sink',
      password: 'p;a"ss',
      tls: true,
      ca: `PEM of ${join(dir, 'ca.pem')}`,
    });
    const plain = resolveStandaloneConfig(
      { ...minimal, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.username': 'u', 'sasl.password': 'p' },
      {},
      { baseDir: dir },
    );
    expect(plain.security).toEqual({ kind: 'sasl-scram', mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p', tls: false });
    const iam = resolveStandaloneConfig(
      { ...minimal, 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'AWS_MSK_IAM' },
      { AWS_REGION: 'eu-west-1' },
      { baseDir: dir },
    );
    expect(iam.security).toEqual({ kind: 'msk-iam', region: 'eu-west-1' });
    const tls = resolveStandaloneConfig(
      { ...minimal, 'security.protocol': 'SSL', 'ssl.ca.location': 'ca.pem' },
      {},
      { baseDir: dir, readFile: () => 'CA' },
    );
    expect(tls.security).toEqual({ kind: 'tls', ca: 'CA' });
    expect(problems({ ...minimal, 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-512' })).toEqual([
      'sasl.username, sasl.password: SCRAM-SHA-512 needs a username and a password (or sasl.jaas.config with both)',
    ]);
    expect(problems({ ...minimal, 'sasl.mechanism': 'SCRAM-SHA-512' })).toEqual([
      'sasl.mechanism: needs security.protocol SASL_SSL or SASL_PLAINTEXT',
    ]);
    expect(problems({ ...minimal, 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'AWS_MSK_IAM' })).toEqual([
      expect.stringMatching(/^sasl\.aws\.region: the MSK cluster's region is required/),
    ]);
  });

  it("reads JSON, including Kafka Connect's REST form", () => {
    const path = join(dir, 'worker.json');
    writeFileSync(path, JSON.stringify({ name: 'rest', config: { ...minimal, 'flush.size': 50, topics: ['a', 'b'] } }));
    const config = readStandaloneConfigFile(path, {});
    expect(config).toMatchObject({ name: 'rest', flushSize: 50, topics: { kind: 'list', names: ['a', 'b'] } });
  });
});

describe('msk-s3-sink standalone (CLI)', () => {
  const io = () => {
    let out = '';
    let err = '';
    return {
      io: { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, now: Date.now },
      out: () => out,
      err: () => err,
    };
  };

  it('exits 2 with every problem listed for a bad file, and 0 with --check for a good one (secrets hidden)', async () => {
    const bad = join(dir, 'bad.properties');
    writeFileSync(bad, 'topics=orders\nflush.size=0\nbogus=1\n');
    const first = io();
    expect(await runCli(['standalone', bad], {}, first.io)).toBe(2);
    expect(first.err()).toContain('bogus: unknown key');
    expect(first.err()).toContain('flush.size:');
    expect(first.err()).toContain('bootstrap.servers: required');

    const good = join(dir, 'good.properties');
    writeFileSync(
      good,
      Object.entries({
        ...minimal,
        'security.protocol': 'SASL_SSL',
        'sasl.mechanism': 'SCRAM-SHA-256',
        'sasl.username': 'u',
        'sasl.password': 'secret',
      })
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    const second = io();
    expect(await runCli(['standalone', good, '--check'], {}, second.io)).toBe(0);
    expect(second.out()).not.toContain('secret');
    expect(JSON.parse(second.out())).toMatchObject({
      groupId: 'g',
      shutdownTimeoutMs: 5000,
      security: { kind: 'sasl-scram', password: '********' },
    });

    const usage = io();
    expect(await runCli(['standalone'], {}, usage.io)).toBe(2);
    expect(usage.err()).toContain('Usage: msk-s3-sink standalone');
  });
});
