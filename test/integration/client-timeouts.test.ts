/**
 * A hung request is abandoned and retried by the SDK instead of eating the function's timeout:
 * a loopback server that accepts connections and never answers stands for the hung peer.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, DEFAULT_CLIENT_TIMEOUTS } from '../../lib/aws/clients.ts';

let server: Server;
let endpoint: string;
let connections = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = createServer((socket) => {
    connections += 1;
    sockets.push(socket);
    socket.on('error', () => undefined);
    // Reads the request, never answers.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const aws = () => ({ region: 'us-east-1', s3Endpoint: endpoint, dynamoDbEndpoint: endpoint });
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('SDK client timeouts', () => {
  it('the defaults are set, far below a Lambda timeout', () => {
    expect(DEFAULT_CLIENT_TIMEOUTS.connectionMs).toBeGreaterThan(0);
    expect(DEFAULT_CLIENT_TIMEOUTS.dynamoDbRequestMs).toBeGreaterThan(0);
    expect(DEFAULT_CLIENT_TIMEOUTS.s3RequestMs).toBeLessThan(60_000);
  });

  it('DynamoDB: every attempt times out and is retried, then the call fails with a TimeoutError', async () => {
    const { dynamoDb } = createAwsClients(aws(), { connectionMs: 500, dynamoDbRequestMs: 200, s3RequestMs: 200 });
    dynamoDb.config.credentials = async () => credentials;
    const before = connections;
    const error = await dynamoDb
      .send(new GetItemCommand({ TableName: 't', Key: { topic: { S: 'a' }, partition: { N: '0' } } }))
      .catch((caught: unknown) => caught as Error & { $metadata?: { attempts?: number } });
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(error.$metadata?.attempts).toBe(5);
    expect(connections - before).toBe(5);
  });

  it('S3: the same', async () => {
    const { s3 } = createAwsClients(aws(), { connectionMs: 500, dynamoDbRequestMs: 200, s3RequestMs: 200 });
    s3.config.credentials = async () => credentials;
    const before = connections;
    const error = await s3
      .send(new HeadObjectCommand({ Bucket: 'b', Key: 'k' }))
      .catch((caught: unknown) => caught as Error & { $metadata?: { attempts?: number } });
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(connections - before).toBe(5);
  });
});
