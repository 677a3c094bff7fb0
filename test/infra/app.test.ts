import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp, EXAMPLE_CONFIG } from '../../infra/app.ts';
import { testContext } from './support.ts';

const outdir = () => mkdtempSync(join(tmpdir(), 'msk-s3-sink-app-'));

describe('the CDK app', () => {
  it('synthesizes offline from the example configuration, bundling the handler with esbuild (one real bundling synth)', () => {
    const dir = outdir();
    const { app, stack } = buildApp({ context: testContext({ bundle: true }), outdir: dir });
    const assembly = app.synth(); // runs cdk-nag (AwsSolutions) as a validation plugin: throws on any unacknowledged finding
    expect(stack.stackName).toBe('orders-s3-sink');
    expect(stack.region).toBe('eu-west-1');
    const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template as Record<string, unknown>);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const assets = readdirSync(dir).filter((name) => name.startsWith('asset.'));
    const bundle = assets.map((asset) => join(dir, asset, 'index.mjs')).find((file) => existsSync(file));
    expect(bundle, 'the bundled handler').toBeDefined();
    expect(statSync(bundle!).size).toBeGreaterThan(10_000);
    expect(existsSync(`${bundle}.map`)).toBe(true);
  });

  it('reads another configuration and context overrides', () => {
    const { app, stack } = buildApp({
      context: {
        ...testContext(),
        config: EXAMPLE_CONFIG,
        stackName: 'Renamed',
        connector: JSON.stringify({ 'flush.size': 42, 'lambda.on.failure.destination': 'sqs' }),
      },
      outdir: outdir(),
    });
    app.synth();
    expect(stack.stackName).toBe('Renamed');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 42 });
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  it('fails the synth with the one configuration error', () => {
    expect(() => buildApp({ context: { ...testContext(), connector: '{"flush.sise": 1}' }, outdir: outdir() })).toThrow(
      'flush.sise: unknown key (did you mean flush.size?)',
    );
  });

  it.each([
    ['self-managed Kafka in a VPC, existing bucket with a KMS key', {
      'msk.cluster.arn': undefined,
      'bootstrap.servers': 'b-1.internal:9096',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'kafka.auth.secret.arn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-AbCdEf',
      'kafka.vpc.subnet.ids': 'subnet-0a,subnet-0b',
      'kafka.vpc.security.group.id': 'sg-0123abcd',
      's3.bucket.name': 'existing-sink-bucket',
      's3.sse.kms.key.id': 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'lambda.on.failure.destination': 'sqs',
      'alarms.email': undefined,
      'alarms.sns.topic.arn': 'arn:aws:sns:eu-west-1:123456789012:ops',
    }],
    ['MSK without a consumer group id, KMS bucket, on demand', {
      'group.id': undefined,
      topics: 'orders',
      's3.ssea.name': 'aws:kms',
      'lambda.provisioned.pollers.min': undefined,
      'lambda.provisioned.pollers.max': undefined,
      'lambda.report.batch.item.failures': undefined,
      'lambda.bisect.batch.on.error': undefined,
      'lambda.retry.attempts': undefined,
      'lambda.on.failure.destination': undefined,
    }],
  ])('passes cdk-nag AwsSolutions with no unacknowledged finding: %s', (_what, overrides) => {
    const connector = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
    const removed = Object.entries(overrides).filter(([, value]) => value === undefined).map(([key]) => key);
    const { app } = buildApp({ context: { ...testContext(), connector: { ...connector, ...Object.fromEntries(removed.map((key) => [key, null])) } }, outdir: outdir() });
    expect(() => app.synth()).not.toThrow();
  });

  it('cdk-nag is live: an unacknowledged finding fails the synth', () => {
    const app = new App({ context: testContext(), outdir: outdir() });
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
  });
});
