import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import {
  ConnectorConfigError,
  ConnectorConfigFileError,
  findPlaceholders,
  readConnectorConfigFile,
  resolveConnectorConfig,
  startingPosition,
} from '../../infra/connector-config.ts';
import type { MskS3SinkProps } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, SECRET_ARN, newStack } from './support.ts';

const minimal = { topics: 'orders', 'msk.cluster.arn': CLUSTER_ARN } as const;
const propsOf = (config: Record<string, unknown>): MskS3SinkProps => resolveConnectorConfig({ ...minimal, ...config }).props(newStack());

/** [key(s), the value(s), what the props must contain] — the mapping documented in docs/configuration.md. */
const mapping: Array<[string, Record<string, unknown>, (props: MskS3SinkProps) => unknown, unknown]> = [
  ['topics (comma-separated)', { topics: 'a1, b2,c3' }, (p) => p.topics, ['a1', 'b2', 'c3']],
  ['topics (YAML list)', { topics: ['a1', 'b2'] }, (p) => p.topics, ['a1', 'b2']],
  ['flush.size', { 'flush.size': '500' }, (p) => p.batchSize, 500],
  ['offset.flush.interval.ms', { 'offset.flush.interval.ms': 10_000 }, (p) => p.maxBatchingWindow?.toSeconds(), 10],
  [
    'consumer.auto.offset.reset=earliest',
    { 'consumer.auto.offset.reset': 'earliest' },
    (p) => p.startingPosition,
    { type: 'TRIM_HORIZON' },
  ],
  ['consumer.auto.offset.reset=latest', { 'consumer.auto.offset.reset': 'latest' }, (p) => p.startingPosition, { type: 'LATEST' }],
  [
    'consumer.auto.offset.reset=ISO time',
    { 'consumer.auto.offset.reset': '2024-05-01T00:00:00Z' },
    (p) => p.startingPosition,
    { type: 'AT_TIMESTAMP', timestamp: 1_714_521_600 },
  ],
  [
    'consumer.auto.offset.reset=epoch ms',
    { 'consumer.auto.offset.reset': '1714521600000' },
    (p) => p.startingPosition,
    { type: 'AT_TIMESTAMP', timestamp: 1_714_521_600 },
  ],
  ['group.id', { 'group.id': 'my-sink' }, (p) => p.consumerGroupId, 'my-sink'],
  ['consumer.group.id (alias)', { 'consumer.group.id': 'my-sink' }, (p) => p.consumerGroupId, 'my-sink'],
  ['errors.tolerance', { 'errors.tolerance': 'all' }, (p) => p.errorsTolerance, 'all'],
  ['errors.deadletterqueue.s3.prefix', { 'errors.deadletterqueue.s3.prefix': 'dlq/' }, (p) => p.deadLetterPrefix, 'dlq/'],
  ['topics.dir', { 'topics.dir': 'raw' }, (p) => p.prefix, 'raw/'],
  ['s3.compression.type', { 's3.compression.type': 'zstd' }, (p) => p.compression, 'zstd'],
  ['format.class', { 'format.class': 'io.confluent.connect.s3.format.json.JsonFormat' }, (p) => p.compression, undefined],
  ['value.converter', { 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' }, (p) => p.valueConverter, 'json'],
  ['s3.bucket.name', { 's3.bucket.name': 'my-bucket' }, (p) => p.bucket?.bucketName, 'my-bucket'],
  ['s3.ssea.name=aws:kms', { 's3.ssea.name': 'aws:kms' }, (p) => p.bucketEncryption, 'KMS'],
  ['s3.bucket.versioning', { 's3.bucket.versioning': 'true' }, (p) => p.bucketVersioned, true],
  ['s3.dead.letter.expiration.days', { 's3.dead.letter.expiration.days': 30 }, (p) => p.deadLetterExpirationDays, 30],
  [
    'sasl.mechanism=AWS_MSK_IAM',
    { 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'AWS_MSK_IAM' },
    (p) => p.source.kind === 'msk' && p.source.authentication?.type,
    'iam',
  ],
  [
    'sasl.mechanism=SCRAM-SHA-512',
    { 'sasl.mechanism': 'SCRAM-SHA-512', 'kafka.auth.secret.arn': SECRET_ARN },
    (p) => p.source.kind === 'msk' && p.source.authentication?.type,
    'sasl-scram',
  ],
  [
    'security.protocol=SSL (mTLS)',
    { 'security.protocol': 'SSL', 'kafka.auth.secret.arn': SECRET_ARN },
    (p) => p.source.kind === 'msk' && p.source.authentication?.type,
    'mtls',
  ],
  ['msk.serverless', { 'msk.serverless': true }, (p) => p.source.kind === 'msk' && p.source.serverless, true],
  [
    'lambda.provisioned.pollers.*',
    { 'lambda.provisioned.pollers.min': 2, 'lambda.provisioned.pollers.max': '8', 'lambda.provisioned.poller.group': 'g1' },
    (p) => p.provisionedPollers,
    { minimumPollers: 2, maximumPollers: 8, pollerGroupName: 'g1' },
  ],
  [
    'lambda.report.batch.item.failures',
    { 'lambda.provisioned.pollers.max': 2, 'lambda.report.batch.item.failures': 'true' },
    (p) => p.reportBatchItemFailures,
    true,
  ],
  [
    'lambda.retry.attempts + on failure',
    { 'lambda.provisioned.pollers.max': 2, 'lambda.retry.attempts': 3, 'lambda.on.failure.destination': 'sqs' },
    (p) => [p.retryAttempts, p.onFailure],
    [3, { type: 'sqs' }],
  ],
  [
    'lambda.max.record.age.seconds',
    {
      'lambda.provisioned.pollers.max': 2,
      'lambda.max.record.age.seconds': 3600,
      'lambda.retry.attempts': 5,
      'lambda.on.failure.destination': 's3',
    },
    (p) => p.maxRecordAge?.toSeconds(),
    3600,
  ],
  [
    'lambda.bisect.batch.on.error',
    { 'lambda.provisioned.pollers.max': 2, 'lambda.bisect.batch.on.error': true },
    (p) => p.bisectBatchOnError,
    true,
  ],
  [
    'lambda.memory.mb / timeout',
    { 'lambda.memory.mb': 2048, 'lambda.timeout.seconds': 120 },
    (p) => [p.memorySize, p.timeout?.toSeconds()],
    [2048, 120],
  ],
  ['lambda.log.retention.days', { 'lambda.log.retention.days': 90 }, (p) => p.logRetention, 90],
  ['sink.max.concurrency', { 'sink.max.concurrency': 8 }, (p) => p.maxConcurrency, 8],
  [
    'alarms.email',
    { 'alarms.email': 'a@example.com,b@example.com' },
    (p) => [p.alarms?.topic, p.alarms?.emails],
    [true, ['a@example.com', 'b@example.com']],
  ],
  ['alarms.offset.lag.threshold', { 'alarms.offset.lag.threshold': 5000 }, (p) => p.alarms?.offsetLagThreshold, 5000],
];

describe('connector configuration → construct props', () => {
  it.each(mapping)('%s', (_key, config, pick, expected) => {
    expect(pick(propsOf(config))).toEqual(expected);
  });

  it('self-managed: bootstrap.servers, SASL mechanism, secret, root CA, subnets, security group', () => {
    const props = resolveConnectorConfig({
      topics: 'events',
      'bootstrap.servers': 'b-1.internal:9096,b-2.internal:9096',
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-256',
      'kafka.auth.secret.arn': SECRET_ARN,
      'kafka.root.ca.secret.arn': SECRET_ARN,
      'kafka.vpc.subnet.ids': ['subnet-0a', 'subnet-0b'],
      'kafka.vpc.security.group.id': 'sg-0123abcd',
    }).props(newStack());
    expect(props.source.kind).toBe('self-managed');
    if (props.source.kind !== 'self-managed') return;
    expect(props.source.bootstrapServers).toEqual(['b-1.internal:9096', 'b-2.internal:9096']);
    expect(props.source.authentication?.type).toBe('sasl-scram-256');
    expect(props.source.rootCaCertificate).toBeDefined();
    expect(props.source.vpcSubnets?.subnets?.map((subnet) => subnet.subnetId)).toEqual(['subnet-0a', 'subnet-0b']);
    expect(props.source.securityGroup?.securityGroupId).toBe('sg-0123abcd');
  });

  it('uses the name as the stack name and s3.region as the region', () => {
    const resolved = resolveConnectorConfig({ ...minimal, name: 'orders-sink', 's3.region': 'eu-west-1' });
    expect(resolved.stackName).toBe('orders-sink');
    expect(resolved.region).toBe('eu-west-1');
  });

  it('leaves defaults to the construct', () => {
    const props = propsOf({});
    expect(props).toMatchObject({ topics: ['orders'], batchSize: undefined, startingPosition: undefined, compression: undefined });
    expect(props.maxBatchingWindow).toBeUndefined();
    expect(Duration.seconds(1).toSeconds()).toBe(1);
  });
});

describe('connector configuration errors', () => {
  const problemsOf = (config: Record<string, unknown>): readonly string[] => {
    try {
      resolveConnectorConfig(config);
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectorConfigError);
      return (error as ConnectorConfigError).problems;
    }
    throw new Error('expected a ConnectorConfigError');
  };

  it('lists every unknown, unsupported and malformed key in ONE error', () => {
    const problems = problemsOf({
      ...minimal,
      'flush.sise': 100,
      'topics.regex': 'orders.*',
      'tasks.max': 4,
      'flush.size': 0,
      's3.compression.type': 'snappy',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'flush.sise: unknown key (did you mean flush.size?)',
        expect.stringContaining('topics.regex: not supported'),
        expect.stringContaining('tasks.max: not supported'),
        expect.stringContaining('flush.size:'),
        expect.stringContaining('s3.compression.type:'),
      ]),
    );
    expect(problems).toHaveLength(5);
    expect(() => resolveConnectorConfig({ ...minimal, 'flush.sise': 100, 'tasks.max': 4 })).toThrow(
      /Invalid connector configuration:\n {2}- flush.sise: unknown key[\s\S]*\n {2}- tasks.max: not supported/,
    );
  });

  /** [what, config, a problem the error must list] */
  const conflicts: Array<[string, Record<string, unknown>, string]> = [
    [
      'two group ids',
      { ...minimal, 'group.id': 'a', 'consumer.group.id': 'b' },
      'group.id, consumer.group.id: conflicting values for the same setting',
    ],
    [
      'two resets',
      { ...minimal, 'consumer.auto.offset.reset': 'earliest', 'auto.offset.reset': 'latest' },
      'consumer.auto.offset.reset, auto.offset.reset: conflicting values',
    ],
    ['both sources', { ...minimal, 'bootstrap.servers': 'b:9092' }, 'msk.cluster.arn, bootstrap.servers: conflicting sources'],
    ['no source', { topics: 'orders' }, 'msk.cluster.arn or bootstrap.servers: one is required'],
    ['no topics', { 'msk.cluster.arn': CLUSTER_ARN }, 'topics:'],
    [
      'bad reset',
      { ...minimal, 'consumer.auto.offset.reset': 'yesterday' },
      'consumer.auto.offset.reset: expected earliest, latest, an ISO-8601 date-time',
    ],
    [
      'reset none',
      { ...minimal, 'consumer.auto.offset.reset': 'none' },
      'consumer.auto.offset.reset: none (fail when no offset is committed) has no event source mapping equivalent',
    ],
    [
      'interval not in seconds',
      { ...minimal, 'offset.flush.interval.ms': 1500 },
      'offset.flush.interval.ms: the batching window is set in whole seconds',
    ],
    [
      'avro',
      { ...minimal, 'format.class': 'io.confluent.connect.s3.format.avro.AvroFormat' },
      'format.class: one of io.confluent.connect.s3.format.json.JsonFormat (JSON Lines), …parquet.ParquetFormat or …bytearray.ByteArrayFormat',
    ],
    ['IAM with a secret', { ...minimal, 'kafka.auth.secret.arn': SECRET_ARN }, 'kafka.auth.secret.arn: not used with IAM authentication'],
    [
      'SCRAM without a secret',
      { ...minimal, 'sasl.mechanism': 'SCRAM-SHA-512' },
      'kafka.auth.secret.arn: required for SCRAM or mutual TLS',
    ],
    [
      'MSK with SCRAM-SHA-256',
      { ...minimal, 'sasl.mechanism': 'SCRAM-SHA-256', 'kafka.auth.secret.arn': SECRET_ARN },
      'sasl.mechanism: Amazon MSK supports AWS_MSK_IAM or SCRAM-SHA-512',
    ],
    ['plaintext', { ...minimal, 'security.protocol': 'PLAINTEXT' }, 'security.protocol: PLAINTEXT is not supported'],
    [
      'SSL and SASL',
      { ...minimal, 'security.protocol': 'SSL', 'sasl.mechanism': 'SCRAM-SHA-512', 'kafka.auth.secret.arn': SECRET_ARN },
      'sasl.mechanism: conflicts with security.protocol=SSL',
    ],
    [
      'subnets without a group',
      { topics: 'orders', 'bootstrap.servers': 'b:9092', 'kafka.vpc.subnet.ids': 'subnet-1' },
      'kafka.vpc.subnet.ids, kafka.vpc.security.group.id: give both, or neither',
    ],
    [
      'existing bucket and versioning',
      { ...minimal, 's3.bucket.name': 'my-bucket', 's3.bucket.versioning': true },
      's3.bucket.versioning: applies only to a bucket the app creates; conflicts with s3.bucket.name',
    ],
    [
      'partial responses on demand',
      { ...minimal, 'lambda.report.batch.item.failures': true },
      'lambda.report.batch.item.failures: Kafka event source mappings support it only in provisioned mode',
    ],
    [
      'retries that discard',
      { ...minimal, 'lambda.provisioned.pollers.max': 2, 'lambda.retry.attempts': 3 },
      'lambda.on.failure.destination: lambda.retry.attempts / lambda.max.record.age.seconds discard records',
    ],
    ['several topics, one group', { ...minimal, topics: 'a1,b2', 'group.id': 'sink' }, 'group.id: with several topics'],
    [
      'emails and a topic',
      { ...minimal, 'alarms.email': 'a@example.com', 'alarms.sns.topic.arn': 'arn:aws:sns:eu-west-1:123456789012:ops' },
      'alarms.email, alarms.sns.topic.arn: conflicting',
    ],
    ['log retention', { ...minimal, 'lambda.log.retention.days': 31 }, "lambda.log.retention.days: one of CloudWatch's retention periods"],
  ];
  it.each(conflicts)('%s', (_what, config, message) => {
    expect(problemsOf(config)).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
  });

  it('lists cross-key conflicts in the same pass as the per-key errors', () => {
    const problems = problemsOf({
      ...minimal,
      'bootstrap.servers': 'b-1.internal:9096',
      'flush.size': 0,
      'lambda.memory.mb': 64,
      'group.id': 'a',
      'consumer.group.id': 'b',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('flush.size:'),
        expect.stringContaining('lambda.memory.mb:'),
        'msk.cluster.arn, bootstrap.servers: conflicting sources; give an MSK cluster ARN or bootstrap servers, not both',
        expect.stringContaining('group.id, consumer.group.id: conflicting values for the same setting'),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('leaves out a cross-key check that rests on a key whose own value is wrong (no made-up problem)', () => {
    // The ARN is given but malformed: "one is required" would be false; its own error is the one to fix.
    expect(problemsOf({ topics: 'orders', 'msk.cluster.arn': 'arn:aws:kafka-cluster/x' })).toEqual([
      'msk.cluster.arn: must be an kafka ARN',
    ]);
    // The pollers are given but out of range: "only in provisioned mode" would send the reader the wrong way.
    expect(problemsOf({ ...minimal, 'lambda.provisioned.pollers.max': 0, 'lambda.report.batch.item.failures': true })).toEqual([
      expect.stringContaining('lambda.provisioned.pollers.max:'),
    ]);
  });

  it('parses the starting position forms', () => {
    expect(startingPosition('2024-05-01T00:00:00.500Z')).toContain('whole seconds');
  });
});

describe('connector configuration files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msk-s3-sink-config-'));

  it('a missing file is one line that names it (no stack trace, no bare ENOENT)', () => {
    const path = join(dir, 'missing.yaml');
    let thrown: unknown;
    try {
      readConnectorConfigFile(path);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConnectorConfigFileError);
    expect(thrown).toBeInstanceOf(ConnectorConfigError);
    const message = (thrown as Error).message;
    expect(message).toBe(`Connector configuration file not found: ${path}`);
    expect((thrown as Error).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('a directory is one line too', () => {
    expect(() => readConnectorConfigFile(dir)).toThrow(new RegExp(`^Cannot read the connector configuration file ${dir}: EISDIR[^\\n]*$`));
  });

  it('reads YAML, JSON and the Kafka Connect REST form', () => {
    writeFileSync(join(dir, 'a.yaml'), 'topics: orders\nflush.size: 10\n');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ name: 'x', config: { topics: 'orders' } }));
    expect(readConnectorConfigFile(join(dir, 'a.yaml'))).toEqual({ topics: 'orders', 'flush.size': 10 });
    expect(readConnectorConfigFile(join(dir, 'b.json'))).toEqual({ name: 'x', topics: 'orders' });
  });
});

describe('placeholder values', () => {
  it('finds the example account in ARNs, reserved example domains and <...> templates', () => {
    const found = findPlaceholders({
      topics: 'orders',
      'msk.cluster.arn': CLUSTER_ARN,
      'kafka.auth.secret.arn': 'arn:aws:secretsmanager:eu-west-1:<account-id>:secret:kafka-AbCdEf',
      'alarms.email': ['ops@acme.io', 'oncall@example.com'],
      'bootstrap.servers': 'b-1.kafka.example.org:9096,b-2.internal:9096',
      's3.bucket.name': 'REPLACE_ME',
    });
    expect(found.map((placeholder) => placeholder.key)).toEqual([
      'msk.cluster.arn',
      'kafka.auth.secret.arn',
      'alarms.email',
      'bootstrap.servers',
      's3.bucket.name',
    ]);
    expect(found[0]).toMatchObject({ value: CLUSTER_ARN, reason: expect.stringContaining('123456789012') });
    expect(found[2]).toMatchObject({ value: 'oncall@example.com', reason: expect.stringContaining('example.com') });
  });

  it('finds none in real-looking values', () => {
    expect(
      findPlaceholders({
        topics: 'orders',
        'msk.cluster.arn': 'arn:aws:kafka:eu-west-1:210987654321:cluster/prod/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1',
        'alarms.email': 'ops@acme.io',
        'group.id': 'sink-{topic}',
        'flush.size': 100,
      }),
    ).toEqual([]);
  });
});
