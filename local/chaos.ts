/**
 * `--chaos`: the fault model injected into a local run of the real handler, drawn from one
 * seeded PRNG (`--chaos-seed`); the draws are repeatable, the timing of real I/O is not.
 *
 * - Service faults, per request, at the HTTP level: S3 503 SlowDown and 500 InternalError (the
 *   S3 emulator's fault hook), DynamoDB ProvisionedThroughputExceededException,
 *   ThrottlingException and 500 (the fault proxy in front of DynamoDB Local), and on both a
 *   lost reply: the request lands, its reply is a 500, as if the process had died just after
 *   sending it. The SDK retries them (5 attempts); when those run out the invocation fails.
 * - Crashes: an invocation is abandoned after a random few milliseconds, as a timed-out or
 *   killed invocation would be: the mapping sees a failure and redelivers, while the abandoned
 *   handler goes on in the background (its late writes land whenever they land).
 * - Concurrent invocations: a second, overlapping batch from the same positions, with other
 *   boundaries, invoked at the same time (two pollers around a rebalance).
 * - Redelivery with other boundaries: a retried batch gets a random smaller size.
 */
import type { DynamoFault, DynamoFaultHook } from '../testkit/emulators/fault-proxy.ts';
import type { S3Fault, S3FaultHook } from '../testkit/emulators/s3-emulator.ts';
import { rng } from '../testkit/kafka/records.ts';

/** Probabilities of each fault (per request for the services, per invocation for the rest). */
export const CHAOS_RATES = {
  s3SlowDown: 0.03,
  s3InternalError: 0.02,
  s3LostReply: 0.04,
  dynamoThroughputExceeded: 0.03,
  dynamoThrottling: 0.02,
  dynamoInternalError: 0.02,
  dynamoLostReply: 0.04,
  crash: 0.15,
  concurrent: 0.2,
  /** A retried batch gets a random size from 1 to BatchSize. */
  otherBoundaries: 0.7,
} as const;

/** Upper bound of how long a crashing invocation runs before it is abandoned, real milliseconds. */
export const CRASH_AFTER_MAX_MS = 60;

export class Chaos {
  readonly random: () => number;
  /** Faults injected, by name. */
  readonly injected = new Map<string, number>();
  #enabled = true;

  constructor(seed: number) {
    this.random = rng(seed);
  }

  #count(name: string): void {
    this.injected.set(name, (this.injected.get(name) ?? 0) + 1);
  }

  /** Stops injecting service faults (for the read-back). */
  disable(): void {
    this.#enabled = false;
  }

  readonly s3Faults: S3FaultHook = ({ operation }) => {
    if (!this.#enabled || (operation !== 'PutObject' && operation !== 'HeadObject' && operation !== 'GetObject')) return undefined;
    const roll = this.random();
    let fault: S3Fault | undefined;
    let name = '';
    if (roll < CHAOS_RATES.s3SlowDown) [fault, name] = [{ kind: 'error', status: 503, code: 'SlowDown' }, 'S3 503 SlowDown'];
    else if (roll < CHAOS_RATES.s3SlowDown + CHAOS_RATES.s3InternalError)
      [fault, name] = [{ kind: 'error', status: 500, code: 'InternalError' }, 'S3 500 InternalError'];
    else if (roll < CHAOS_RATES.s3SlowDown + CHAOS_RATES.s3InternalError + CHAOS_RATES.s3LostReply)
      [fault, name] = [{ kind: 'lost-reply' }, `S3 ${operation} landed, reply lost`];
    if (fault !== undefined) this.#count(name);
    return fault;
  };

  readonly dynamoFaults: DynamoFaultHook = ({ operation }) => {
    if (!this.#enabled || (operation !== 'GetItem' && operation !== 'UpdateItem')) return undefined;
    const roll = this.random();
    const r = CHAOS_RATES;
    let fault: DynamoFault | undefined;
    let name = '';
    if (roll < r.dynamoThroughputExceeded)
      [fault, name] = [
        { kind: 'error', status: 400, code: 'ProvisionedThroughputExceededException' },
        'DynamoDB ProvisionedThroughputExceeded',
      ];
    else if (roll < r.dynamoThroughputExceeded + r.dynamoThrottling)
      [fault, name] = [{ kind: 'error', status: 400, code: 'ThrottlingException' }, 'DynamoDB ThrottlingException'];
    else if (roll < r.dynamoThroughputExceeded + r.dynamoThrottling + r.dynamoInternalError)
      [fault, name] = [{ kind: 'error', status: 500, code: 'InternalServerError' }, 'DynamoDB 500 InternalServerError'];
    else if (roll < r.dynamoThroughputExceeded + r.dynamoThrottling + r.dynamoInternalError + r.dynamoLostReply)
      [fault, name] = [{ kind: 'lost-reply' }, `DynamoDB ${operation} landed, reply lost`];
    if (fault !== undefined) this.#count(name);
    return fault;
  };

  /** Whether to abandon this invocation, and after how many real milliseconds. */
  crashAfter(): number | undefined {
    if (this.random() >= CHAOS_RATES.crash) return undefined;
    this.#count('invocation crashed (abandoned mid-flight)');
    return Math.floor(this.random() * CRASH_AFTER_MAX_MS);
  }

  /** Whether to run a second, overlapping batch, and its size. */
  concurrentBatchSize(batchSize: number): number | undefined {
    if (this.random() >= CHAOS_RATES.concurrent) return undefined;
    this.#count('concurrent overlapping invocation');
    return 1 + Math.floor(this.random() * batchSize);
  }

  /** The size of a redelivered batch: random, or undefined for the full BatchSize. */
  redeliverySize(batchSize: number): number | undefined {
    if (this.random() >= CHAOS_RATES.otherBoundaries) return undefined;
    this.#count('redelivery with other boundaries');
    return 1 + Math.floor(this.random() * batchSize);
  }

  total(): number {
    let n = 0;
    for (const v of this.injected.values()) n += v;
    return n;
  }
}
