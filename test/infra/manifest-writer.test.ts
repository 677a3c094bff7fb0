import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifestJobSettings } from '../../lib/manifest/job-settings.ts';
import { MskS3Sink, type MskS3SinkProps } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, actionsOf, hasStatements, policyStatements, synthSink, testContext } from './support.ts';

const base: MskS3SinkProps = {
  source: { kind: 'msk', clusterArn: CLUSTER_ARN },
  topics: ['orders', 'clicks'],
  consumerGroupId: 'sink-{topic}',
};
const hourly = { SINK_PARTITIONER: 'time' } as const;

/** The Lambda functions of a template whose handler is the manifest writer (by its environment). */
const writerFunctions = (template: Template) =>
  Object.entries(
    template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { MANIFEST_TOPICS: Match.anyValue() } } } }),
  );

describe('the manifest writer with the time partitioner', () => {
  let result: ReturnType<typeof synthSink>;
  beforeAll(() => {
    result = synthSink({ ...base, sinkSettings: hourly, manifests: { graceMs: 60_000, partitionsPerTopic: { orders: 6 } } });
  });

  it('deploys a second function on Node.js 24, arm64, with the sink settings and its own', () => {
    result.template.resourceCountIs('AWS::Lambda::Function', 2);
    expect(writerFunctions(result.template)).toHaveLength(1);
    result.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          SINK_BUCKET: { Ref: Match.anyValue() },
          LEDGER_TABLE: { Ref: Match.anyValue() },
          SINK_PREFIX: 'topics/',
          SINK_PARTITIONER: 'time',
          MANIFEST_TOPICS: 'orders,clicks',
          MANIFEST_TOPIC_PARTITIONS: 'orders:6',
          MANIFEST_GRACE_MS: '60000',
        }),
      },
    });
    expect(result.sink.manifestWriter).toBeDefined();
    expect(result.sink.manifestSchedule).toBeDefined();
    // The writer's settings are what its own loader accepts.
    const variables = (writerFunctions(result.template)[0]![1] as { Properties: { Environment: { Variables: Record<string, string> } } })
      .Properties.Environment.Variables;
    const settings = loadManifestJobSettings(variables);
    expect(settings).toEqual({ topics: ['orders', 'clicks'], partitions: new Map([['orders', 6]]), graceMs: 60_000 });
  });

  it('runs it every 5 minutes from an EventBridge rule', () => {
    const [writerId] = writerFunctions(result.template)[0]!;
    result.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [writerId, 'Arn'] } })],
    });
    result.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [writerId, 'Arn'] },
    });
  });

  it('grants it only listing and reading the sink prefix, creating manifests, and scanning the ledger', () => {
    hasStatements(
      result.template,
      {
        Sid: 'ManifestListPrefix',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['topics/*'] } },
      },
      {
        Sid: 'ManifestReadObjects',
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, '/topics/*']] },
      },
      {
        Sid: 'ManifestWriteMarkers',
        Action: 's3:PutObject',
        Resource: [
          // (CDK sorts the resources.)
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, '/topics/*/_manifest-state.json']] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, '/topics/*/_manifest.json']] },
        ],
      },
      { Sid: 'ManifestLedger', Action: 'dynamodb:Scan', Resource: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
    );
    // Nothing else of S3 or DynamoDB in the writer's statements, and the sink's role is unchanged.
    const writerStatements = policyStatements(result.template).filter((s) => String(s.Sid ?? '').startsWith('Manifest'));
    expect(writerStatements.flatMap(actionsOf).sort()).toEqual(['dynamodb:Scan', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(policyStatements(result.template).flatMap(actionsOf)).not.toContain('s3:DeleteObject');
    hasStatements(result.template, { Sid: 'Ledger', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'] });
  });

  it('takes another schedule, and a KMS bucket key', () => {
    const { template } = synthSink((stack) => ({
      ...base,
      sinkSettings: hourly,
      manifests: { schedule: Duration.minutes(15) },
      bucket: s3.Bucket.fromBucketName(stack, 'Existing', 'existing-sink-bucket'),
      bucketKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    }));
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    expect(policyStatements(template).filter((s) => s.Sid === 'SinkBucketKey')).toHaveLength(2);
  });

  it('passes cdk-nag AwsSolutions with the wildcards acknowledged', () => {
    const app = new App({ context: testContext(), outdir: mkdtempSync(join(tmpdir(), 'msk-s3-sink-cdk-')) });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'eu-west-1' } });
    new MskS3Sink(stack, 'Sink', { ...base, sinkSettings: hourly });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('without the manifest writer', () => {
  it.each([
    ['the default partitioner', { ...base }],
    ['the field partitioner', { ...base, sinkSettings: { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' } }],
    [
      'the time partitioner on a field of the value',
      { ...base, sinkSettings: { ...hourly, SINK_TIMESTAMP_EXTRACTOR: 'RecordField', SINK_TIMESTAMP_FIELD: 'ts' } },
    ],
    ['the time partitioner with manifests: false', { ...base, sinkSettings: hourly, manifests: false as const }],
  ])('%s: one function, no schedule, no manifest statements', (_what, props) => {
    const { template, sink } = synthSink(props);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(writerFunctions(template)).toHaveLength(0);
    expect(policyStatements(template).filter((s) => String(s.Sid ?? '').startsWith('Manifest'))).toEqual([]);
    expect(sink.manifestWriter).toBeUndefined();
    expect(sink.manifestSchedule).toBeUndefined();
  });
});

describe('manifests validation at synth', () => {
  it('rejects manifest options without the time partitioner, with a clear message', () => {
    expect(() => synthSink({ ...base, manifests: { schedule: Duration.minutes(10) } })).toThrow(
      "manifests: completeness markers need the time partitioner (sinkSettings.SINK_PARTITIONER: 'time'), got the default partitioner",
    );
    expect(() => synthSink({ ...base, sinkSettings: { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'c' }, manifests: {} })).toThrow(
      'manifests: completeness markers need the time partitioner',
    );
    expect(() =>
      synthSink({
        ...base,
        sinkSettings: { ...hourly, SINK_TIMESTAMP_EXTRACTOR: 'RecordField', SINK_TIMESTAMP_FIELD: 'ts' },
        manifests: {},
      }),
    ).toThrow('SINK_TIMESTAMP_EXTRACTOR=Record');
    // Off is always fine.
    expect(() => synthSink({ ...base, manifests: false })).not.toThrow();
  });

  it('rejects a bad schedule, grace or partition count', () => {
    expect(() =>
      synthSink({
        ...base,
        sinkSettings: hourly,
        manifests: { schedule: Duration.seconds(30), graceMs: -1, partitionsPerTopic: { orders: 0, nope: 3 } },
      }),
    ).toThrow(
      /manifests\.schedule: whole minutes[\s\S]*manifests\.graceMs[\s\S]*orders must be a positive partition count[\s\S]*"nope" is not one of topics/,
    );
  });
});
