/**
 * Deployed stacks keep their data. The guide says not to assert logical IDs (they are CDK's
 * business, and such tests break on every harmless refactoring); this file is the one exception
 * worth having: CloudFormation replaces a resource whose logical ID changes, and for the sink
 * bucket, its access-log bucket, a KMS key or the offset ledger that means a new, empty resource
 * (the old one, retained, is orphaned), i.e. users' data and offsets left behind. The outputs are
 * pinned too: the post-deploy checklist and users' scripts read them by name.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { testContext } from './support.ts';

const STATEFUL = ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::DynamoDB::Table'];

function synthApp(connector: Record<string, unknown> = {}): Template {
  const { app, stack } = buildApp({
    context: { ...testContext(), connector: JSON.stringify(connector) },
    outdir: mkdtempSync(join(tmpdir(), 'msk-s3-sink-ids-')),
  });
  app.synth();
  return Template.fromStack(stack);
}

/** Logical ID to type, for the stateful resources of a template. */
function statefulResources(template: Template): Record<string, string> {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, resource]) => STATEFUL.includes(resource.Type))
      .map(([id, resource]) => [id, resource.Type]),
  );
}

describe('the logical IDs of the stateful resources of a deployed stack', () => {
  it('the example configuration: sink bucket, access-log bucket, on-failure bucket, ledger, alarm topic key', () => {
    const template = synthApp();
    expect(statefulResources(template)).toEqual({
      SinkAccessLogs5552479E: 'AWS::S3::Bucket',
      SinkBucketA4E8F266: 'AWS::S3::Bucket',
      SinkLedgerF7B8F7EC: 'AWS::DynamoDB::Table',
      SinkOnFailureBucketCF722CD5: 'AWS::S3::Bucket',
      SinkMonitoringAlarmTopicKey33C38A3E: 'AWS::KMS::Key',
    });
    expect(Object.keys(template.toJSON().Outputs as object).sort()).toEqual([
      'SinkBucketName18A69BDF',
      'SinkDashboardName243015EB',
      'SinkFunctionName8215AC64',
      'SinkLedgerTableName44A107ED',
    ]);
  });

  it('a KMS-encrypted sink bucket: its key too', () => {
    expect(statefulResources(synthApp({ 's3.ssea.name': 'aws:kms' }))).toEqual({
      SinkAccessLogs5552479E: 'AWS::S3::Bucket',
      SinkBucketA4E8F266: 'AWS::S3::Bucket',
      SinkBucketKeyFD1C52AB: 'AWS::KMS::Key',
      SinkLedgerF7B8F7EC: 'AWS::DynamoDB::Table',
      SinkOnFailureBucketCF722CD5: 'AWS::S3::Bucket',
      SinkMonitoringAlarmTopicKey33C38A3E: 'AWS::KMS::Key',
    });
  });
});
