/**
 * Issue 14, the CDK side: the IAM is scoped (no `Resource: "*"` on network interfaces, no reads of
 * dead letters), and cdk-nag's AwsSolutions pack passes with hand-written acknowledgements.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { MskS3Sink, type MskS3SinkProps } from '../../infra/msk-s3-sink.ts';
import { CLUSTER_ARN, actionsOf, newStack, policyStatements, secret, synthSink, testContext } from './support.ts';

const msk = { kind: 'msk', clusterArn: CLUSTER_ARN } as const;
const base: MskS3SinkProps = { source: msk, topics: ['orders'], consumerGroupId: 'orders-sink' };
const provisioned = { provisionedPollers: { minimumPollers: 1, maximumPollers: 2 } } as const;

describe('IAM hardening', () => {
  it('never reads dead letters: PutObject only on the dead-letter prefix', () => {
    const { template, sink, stack } = synthSink(base);
    const bucketArn = stack.resolve(sink.bucket.bucketArn);
    const onDeadLetters = policyStatements(template).filter((s) => JSON.stringify(s.Resource).includes('/dead-letters/'));
    expect(onDeadLetters.map((s) => actionsOf(s))).toEqual([['s3:PutObject']]);
    expect(onDeadLetters[0]!.Resource).toEqual({ 'Fn::Join': ['', [bucketArn, '/dead-letters/*']] });
  });

  it('MSK: network interfaces only in subnets of this account and region, Describe* alone on "*"', () => {
    const { template } = synthSink(base);
    const statements = policyStatements(template);
    const star = statements.filter((s) => s.Resource === '*');
    expect(star.flatMap(actionsOf).sort()).toEqual([
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
    ]);
    const interfaces = statements.find((s) => s.Sid === 'EventPollerNetworkInterfaces')!;
    expect(actionsOf(interfaces)).toEqual(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']);
    expect(JSON.stringify(interfaces.Resource)).toContain(':ec2:eu-west-1:123456789012:network-interface/*');
    expect(JSON.stringify(interfaces.Condition)).toContain('"ArnLike":{"ec2:Subnet":');
    expect(JSON.stringify(interfaces.Condition)).toContain(':ec2:eu-west-1:123456789012:subnet/*');
  });

  it('MSK with its subnets given: interfaces only in those subnets', () => {
    const { template } = synthSink({ ...base, source: { ...msk, subnetIds: ['subnet-0a1', 'subnet-0b2'] } });
    const statements = policyStatements(template);
    const condition = JSON.stringify(statements.find((s) => s.Sid === 'EventPollerNetworkInterfaces')!.Condition);
    expect(condition).toContain('"ArnEquals":{"ec2:Subnet":');
    expect(condition).toContain(':subnet/subnet-0a1');
    expect(condition).toContain(':subnet/subnet-0b2');
    const resources = JSON.stringify(statements.find((s) => s.Sid === 'EventPollerSubnets')!.Resource);
    expect(resources).not.toContain(':subnet/*');
    expect(() => synthSink({ ...base, source: { ...msk, subnetIds: ['sn-1'] } })).toThrow(
      'source.subnetIds: "sn-1" is not a subnet id (subnet-...)',
    );
  });

  it('self-managed Kafka in a VPC: interfaces only in the listed subnets, with the listed security group', () => {
    const { template } = synthSink((stack) => ({
      source: {
        kind: 'self-managed',
        bootstrapServers: ['b-1.kafka.internal:9096'],
        authentication: { type: 'sasl-scram-512', secret: secret(stack) },
        vpcSubnets: { subnets: ['subnet-0a', 'subnet-0b'].map((id) => ec2.Subnet.fromSubnetId(stack, id, id)) },
        securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0'),
      },
      topics: ['events'],
    }));
    const statements = policyStatements(template);
    const interfaces = statements.find((s) => s.Sid === 'EventPollerNetworkInterfaces')!;
    const condition = JSON.stringify(interfaces.Condition);
    expect(condition).toContain('"ArnEquals":{"ec2:Subnet":');
    expect(condition).toContain(':subnet/subnet-0a');
    expect(condition).toContain(':subnet/subnet-0b');
    const subnets = JSON.stringify(statements.find((s) => s.Sid === 'EventPollerSubnets')!.Resource);
    expect(subnets).toContain(':subnet/subnet-0a');
    expect(subnets).toContain(':security-group/sg-0123456789abcdef0');
    expect(subnets).not.toContain('/*');
    for (const statement of statements) {
      if (actionsOf(statement).some((a) => a === 'ec2:CreateNetworkInterface' || a === 'ec2:DeleteNetworkInterface'))
        expect(statement.Resource).not.toBe('*');
    }
  });

  it('grants the alarm key to CloudWatch for this account only (aws:SourceAccount)', () => {
    const { template } = synthSink({ ...base, alarms: { topic: true } });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          }),
        ]),
      },
    });
  });

  it('refuses a consumer group id with "*" (it would be a wildcard in the IAM grant)', () => {
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, consumerGroupId: '*' })).toThrow(
      'consumerGroupId: "*" must be 1-200 characters of [a-zA-Z0-9-/:_+=.@]',
    );
    expect(() => new MskS3Sink(newStack(), 'Sink', { ...base, topics: ['a1', 'b2'], consumerGroupId: 'sink-*-{topic}' })).toThrow(
      'consumerGroupId: "sink-*-{topic}"',
    );
  });

  it.each([
    [
      'MSK, no group id, S3 on-failure, manifests, alarm topic',
      (stack: Stack): MskS3SinkProps => ({
        source: msk,
        topics: ['orders', 'payments'],
        ...provisioned,
        retryAttempts: 10,
        onFailure: { type: 's3' },
        sinkSettings: { SINK_PARTITIONER: 'time' },
        alarms: { topic: true },
        dashboardName: `${stack.stackName}-dash`,
      }),
    ],
    [
      'self-managed in a VPC, SQS on-failure',
      (stack: Stack): MskS3SinkProps => ({
        source: {
          kind: 'self-managed',
          bootstrapServers: ['b-1.kafka.internal:9096'],
          authentication: { type: 'sasl-scram-512', secret: secret(stack) },
          vpcSubnets: { subnets: [ec2.Subnet.fromSubnetId(stack, 'S', 'subnet-0a')] },
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0'),
        },
        topics: ['events'],
        ...provisioned,
        maxRecordAge: Duration.hours(6),
        retryAttempts: 50,
        onFailure: { type: 'sqs' },
      }),
    ],
  ])('passes cdk-nag AwsSolutions with hand-written acknowledgements: %s', (_what, props) => {
    const app = new App({ context: testContext(), outdir: mkdtempSync(join(tmpdir(), 'msk-s3-sink-cdk-')) });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'eu-west-1' } });
    new MskS3Sink(stack, 'Sink', props(stack));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
