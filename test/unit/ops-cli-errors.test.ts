import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../lib/ops/cli.ts';

/**
 * Missing permissions give one clear error each. No emulator answers AccessDenied, so the SDK
 * clients are mocked here (the behaviour of the commands is tested against the emulators).
 */
describe('msk-s3-sink: missing permissions', () => {
  const dynamo = mockClient(DynamoDBClient);
  const s3 = mockClient(S3Client);
  const env = { SINK_BUCKET: 'sink-bucket', LEDGER_TABLE: 'sink-ledger', AWS_REGION: 'us-east-1' };
  const denied = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 403 } });

  beforeAll(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'x');
  });
  afterEach(() => {
    dynamo.reset();
    s3.reset();
  });
  afterAll(() => {
    dynamo.restore();
    s3.restore();
    vi.unstubAllEnvs();
  });

  const cli = async (...argv: string[]) => {
    let stderr = '';
    const code = await runCli(argv, env, { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) }, now: Date.now });
    return { code, stderr };
  };

  it('status without dynamodb:Scan on the ledger', async () => {
    dynamo
      .on(ScanCommand)
      .rejects(denied('AccessDeniedException', 'User: arn:aws:iam::1:user/ops is not authorized to perform: dynamodb:Scan'));
    const { code, stderr } = await cli('status');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('permission denied: User: arn:aws:iam::1:user/ops is not authorized to perform: dynamodb:Scan');
  });

  it('verify without s3:ListBucket on the bucket', async () => {
    dynamo.on(ScanCommand).resolves({ Items: [] });
    s3.on(ListObjectsV2Command).rejects(denied('AccessDenied', 'Access Denied'));
    const { code, stderr } = await cli('verify');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: permission denied: Access Denied \(the credentials in use lack a permission this command needs\)\n$/);
  });
});
