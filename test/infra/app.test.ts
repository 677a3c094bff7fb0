import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp, EXAMPLE_CONFIG } from '../../infra/app.ts';
import { runScript } from '../support/child.ts';
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

  it('a -c config file that does not exist is one line on stderr and exit code 1 (the app as cdk runs it)', async () => {
    const { code, stdout, stderr } = await runScript('infra/app.ts', [], {
      CDK_CONTEXT_JSON: JSON.stringify({ config: 'no-such-connector.yaml' }),
      CDK_OUTDIR: outdir(),
    });
    expect(stderr).toMatch(/^Connector configuration file not found: \S*no-such-connector\.yaml\n$/);
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });

  it('synthesizes the example, placeholders and all, into a template whose every deployment CloudFormation refuses, saying what to change', () => {
    const { app, stack } = buildApp({ context: testContext(), outdir: outdir() });
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const template = artifact.template as {
      Parameters: Record<string, { Default: string; AllowedValues: string[] }>;
      Rules: Record<string, { Assertions: Array<{ Assert: unknown; AssertDescription: string }> }>;
    };
    const rule = template.Rules['RefusePlaceholderConfiguration'];
    expect(rule, 'the refusing rule').toBeDefined();
    const [assertion] = rule!.Assertions;
    expect(assertion!.AssertDescription).toContain('msk.cluster.arn');
    expect(assertion!.AssertDescription).toContain('alarms.email');
    expect(assertion!.AssertDescription).toContain('-c config=');
    // CloudFormation evaluates Rules before it creates or changes anything: the assertion is false
    // for every value the marker parameter may take, so no deployment of this template passes.
    const marker = template.Parameters['PlaceholderConfiguration']!;
    for (const value of [marker.Default, ...marker.AllowedValues]) {
      expect(evaluateRule(assertion!.Assert, { PlaceholderConfiguration: value })).toBe(false);
    }
    // ... and cdk synth / cdk deploy print the same message as a warning before they do anything else.
    const warnings = artifact.messages.filter((message) => message.level === 'warning').map((message) => String(message.entry.data));
    expect(warnings).toEqual(expect.arrayContaining([expect.stringContaining(assertion!.AssertDescription)]));
  });

  it('a configuration without placeholders synthesizes a template CloudFormation deploys (no refusing rule, no warning)', () => {
    const { app, stack } = buildApp({
      context: {
        ...testContext(),
        connector: {
          'msk.cluster.arn': 'arn:aws:kafka:eu-west-1:210987654321:cluster/orders-cluster/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1',
          'alarms.email': 'ops@acme.io',
        },
      },
      outdir: outdir(),
    });
    const artifact = app.synth().getStackByName(stack.stackName);
    const template = artifact.template as { Rules?: Record<string, unknown>; Parameters?: Record<string, unknown> };
    expect(template.Rules?.['RefusePlaceholderConfiguration']).toBeUndefined();
    expect(template.Parameters?.['PlaceholderConfiguration']).toBeUndefined();
    expect(artifact.messages.filter((message) => message.level === 'warning')).toEqual([]);
  });

  it.each([
    [
      'self-managed Kafka in a VPC, existing bucket with a KMS key',
      {
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
      },
    ],
    [
      'MSK without a consumer group id, KMS bucket, on demand',
      {
        'group.id': undefined,
        topics: 'orders',
        's3.ssea.name': 'aws:kms',
        'lambda.provisioned.pollers.min': undefined,
        'lambda.provisioned.pollers.max': undefined,
        'lambda.report.batch.item.failures': undefined,
        'lambda.bisect.batch.on.error': undefined,
        'lambda.retry.attempts': undefined,
        'lambda.on.failure.destination': undefined,
      },
    ],
  ])('passes cdk-nag AwsSolutions with no unacknowledged finding: %s', (_what, overrides) => {
    const connector = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
    const removed = Object.entries(overrides)
      .filter(([, value]) => value === undefined)
      .map(([key]) => key);
    const { app } = buildApp({
      context: { ...testContext(), connector: { ...connector, ...Object.fromEntries(removed.map((key) => [key, null])) } },
      outdir: outdir(),
    });
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

/** Evaluates the few CloudFormation rule functions a refusing rule uses (Fn::Not, Fn::Contains, Fn::Equals, Ref). */
function evaluateRule(expression: unknown, parameters: Record<string, string>): unknown {
  if (typeof expression !== 'object' || expression === null) return expression;
  if (Array.isArray(expression)) return expression.map((item) => evaluateRule(item, parameters));
  const [[name, args]] = Object.entries(expression) as [[string, unknown]];
  const values = Array.isArray(args) ? args.map((arg) => evaluateRule(arg, parameters)) : evaluateRule(args, parameters);
  switch (name) {
    case 'Ref':
      if (!(String(args) in parameters)) throw new Error(`unknown parameter ${String(args)}`);
      return parameters[String(args)];
    case 'Fn::Not':
      return !(values as unknown[])[0];
    case 'Fn::Contains':
      return ((values as unknown[])[0] as unknown[]).includes((values as unknown[])[1]);
    case 'Fn::Equals':
      return (values as unknown[])[0] === (values as unknown[])[1];
    default:
      throw new Error(`not a rule function this test knows: ${name}`);
  }
}
