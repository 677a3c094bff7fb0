/**
 * The standalone worker's membership of its consumer group: the consumer's group options (the
 * assignment strategies, most preferred first, and the assignor), and joining, with a log line
 * that says who the join waits for.
 */
import { Admin, type Consumer, type ConsumerOptions } from '@platformatic/kafka';
import { AssignmentStrategy, type StandaloneConfig } from '../config/worker-config.ts';
import type { kafkaClientOptions } from '../kafka/kafka-admin.ts';
import { stickyToEveryClaim } from './assignor.ts';
import { describeKafkaError, isAuthError, WorkerFatalError } from './kafka-errors.ts';
import { errorFields, type WorkerLogger } from './log.ts';

const MAX_RETRY_DELAY_MS = 30_000;

/** The client options of every Kafka client of the worker (bootstrap servers, security, client id). */
export type ClientOptions = ReturnType<typeof kafkaClientOptions>;

/** The worker's consumer: a group member without autocommit, fetching with explicit offsets. */
export function groupConsumerOptions(
  config: StandaloneConfig,
  clientOptions: ClientOptions,
): ConsumerOptions<Buffer, Buffer, Buffer, Buffer> {
  return {
    ...clientOptions,
    retries: 5,
    retryDelay: 500,
    groupId: config.groupId,
    autocommit: false,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: config.heartbeatIntervalMs,
    rebalanceTimeout: config.rebalanceTimeoutMs,
    maxWaitTime: config.fetchMaxWaitMs,
    maxBytesPerPartition: config.maxPartitionFetchBytes,
    // Most preferred first; the group takes the first every member offers. Version 3 of the
    // subscription carries the partitions a member owns, which cooperative-sticky keeps.
    protocols: config.assignmentStrategies.map((name) => ({ name, version: name === AssignmentStrategy.cooperativeSticky ? 3 : 1 })),
    partitionAssigner: stickyToEveryClaim,
  };
}

/** What joining needs of the worker. */
export interface MembershipHost {
  readonly config: StandaloneConfig;
  readonly clientOptions: ClientOptions;
  readonly consumer: Consumer;
  readonly log: WorkerLogger;
  stopping(): boolean;
  /** A Kafka request abandoned (rejected) when a stop is asked for. */
  untilStop<T>(request: Promise<T>): Promise<T>;
  /** Sleeps, woken early by a stop. */
  sleep(ms: number): Promise<void>;
}

/**
 * Joins the consumer group, trying again with a growing delay until it succeeds or a stop is asked
 * for. Returns true when joined; refused credentials are fatal (`WorkerFatalError`).
 */
export async function joinGroup(host: MembershipHost, firstJoin: boolean): Promise<boolean> {
  await announceJoin(host, firstJoin);
  for (let attempt = 1; !host.stopping(); attempt++) {
    try {
      await host.untilStop(
        host.consumer.joinGroup({
          sessionTimeout: host.config.sessionTimeoutMs,
          rebalanceTimeout: host.config.rebalanceTimeoutMs,
          heartbeatInterval: host.config.heartbeatIntervalMs,
        }),
      );
      return true;
    } catch (error) {
      // A join abandoned by the stop may still complete: closing the consumer then leaves.
      if (host.stopping()) return false;
      if (isAuthError(error)) throw new WorkerFatalError(`Kafka refused the credentials: ${describeKafkaError(error)}`, { cause: error });
      const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(attempt, 7));
      host.log.warn('Joining the consumer group failed; trying again', { attempt, delayMs: delay, ...errorFields(error) });
      await host.sleep(delay);
    }
  }
  return false;
}

/**
 * Says that the worker joins, and, at the first join, who is in the group already. The join
 * completes only once every member has rejoined, and a member left by a worker that was
 * killed (it never left the group) is removed only when its session expires: a restart after
 * a SIGKILL waits up to `consumer.session.timeout.ms` with nothing else to show for it.
 */
async function announceJoin(host: MembershipHost, firstJoin: boolean): Promise<void> {
  const { groupId, sessionTimeoutMs } = host.config;
  host.log.info('Joining the consumer group', { groupId, sessionTimeoutMs, rebalanceTimeoutMs: host.config.rebalanceTimeoutMs });
  if (!firstJoin) return;
  const members = await groupMembers(host);
  if (members === undefined || members.length === 0) return;
  host.log.info(
    `Waiting for the consumer group's members to rejoin: a member left by a worker that stopped without leaving the group (killed) is removed when its session expires, up to session.timeout.ms (${sessionTimeoutMs} ms here) after its last heartbeat`,
    { groupId, members, sessionTimeoutMs },
  );
}

/** The group's current members (DescribeGroups), or undefined when the broker does not say. */
async function groupMembers(host: MembershipHost): Promise<Array<{ memberId: string; clientId: string; host: string }> | undefined> {
  const admin = new Admin({ ...host.clientOptions, clientId: `${host.config.clientId}-admin`, retries: 0 });
  try {
    const groups = await host.untilStop(admin.describeGroups({ groups: [host.config.groupId] }));
    const group = groups.get(host.config.groupId);
    return [...(group?.members.values() ?? [])].map((m) => ({ memberId: m.id, clientId: m.clientId, host: m.clientHost }));
  } catch (error) {
    // Only a log line depends on it: the join itself reports what matters.
    if (!host.stopping()) host.log.debug('Describing the consumer group failed', errorFields(error));
    return undefined;
  } finally {
    await admin.close().catch(() => undefined);
  }
}
