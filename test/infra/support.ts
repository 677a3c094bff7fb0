/**
 * Helpers for the infrastructure tests: apps with cdk.json's context (feature flags), bundling
 * skipped unless asked for (`aws:cdk:bundling-stacks: []`), and a few sample sources.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { PROJECT_ROOT } from '../../infra/app.ts';
import { MskS3Sink, type MskS3SinkProps } from '../../infra/msk-s3-sink.ts';

export const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/demo/abcd1234-abcd-cafe-abab-9876543210ab-4';
export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_sink-AbCdEf';

/** cdk.json's context (feature flags, no notices) with bundling skipped unless `bundle` is set. */
export function testContext(options: { bundle?: boolean } = {}): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return { ...cdkJson.context, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
}

export function newStack(): Stack {
  const app = new App({ context: testContext(), outdir: mkdtempSync(join(tmpdir(), 'msk-s3-sink-cdk-')) });
  return new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
}

export function secret(stack: Stack, id = 'Secret', arn = SECRET_ARN): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretCompleteArn(stack, id, arn);
}

/** Builds one sink in a fresh stack and returns its template. */
export function synthSink(props: MskS3SinkProps | ((stack: Stack) => MskS3SinkProps)): {
  template: Template;
  sink: MskS3Sink;
  stack: Stack;
} {
  const stack = newStack();
  const sink = new MskS3Sink(stack, 'Sink', typeof props === 'function' ? props(stack) : props);
  return { template: Template.fromStack(stack), sink, stack };
}

/** Every statement of every IAM policy in the template. */
export function policyStatements(template: Template): Array<Record<string, unknown>> {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement,
  );
}

export function actionsOf(statement: Record<string, unknown>): string[] {
  const action = statement.Action;
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

/** Asserts that some IAM policy of the template has a statement matching each pattern (in any order). */
export function hasStatements(template: Template, ...patterns: Array<Record<string, unknown>>): void {
  for (const pattern of patterns) {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(pattern)]) },
    });
  }
}
