import type { Context } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';

/** How a context differs from the defaults. */
export interface LambdaContextOptions {
  /** The function's timeout: `getRemainingTimeInMillis` counts down from it, from the context's creation (default 60 s). */
  readonly timeoutMs?: number;
  /** Default: a new UUID per context, as each invocation gets. */
  readonly requestId?: string;
  /** Default: today's `YYYY/MM/DD/[$LATEST]<32 hex>`, shaped as the runtime names streams. */
  readonly logStreamName?: string;
}

/**
 * A Lambda context as the runtime passes it to `msk-s3-sink`-style handlers, for local mode, the
 * benchmark and the tests: one per invocation, in us-east-1 under account 123456789012.
 */
export function lambdaContext(functionName: string, options: LambdaContextOptions = {}): Context {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: options.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: options.logStreamName ?? `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
