/**
 * The Kafka side of the worker's stop (`StandaloneWorker#close`). It is bounded, unlike the
 * delivery of what was fetched: the final offset commit, leaving the group and closing the
 * clients get `task.shutdown.graceful.timeout.ms` between them, after which they are abandoned
 * with a warning. Against an unreachable cluster each of those requests would otherwise retry for
 * many seconds.
 */
import type { Consumer } from '@platformatic/kafka';
import type { StandaloneConfig } from '../config/worker-config.ts';
import { errorFields, type WorkerLogger } from './log.ts';
import type { GroupOffset } from './partition-delivery.ts';
import type { TopicSubscription } from './topic-subscription.ts';

/** What the stop needs of the worker. */
export interface KafkaStopHost {
  readonly config: StandaloneConfig;
  readonly consumer: Consumer;
  readonly subscription: TopicSubscription;
  readonly log: WorkerLogger;
  /** The worker is a member of the group (it leaves it). */
  readonly joined: boolean;
  /** The worker stops on a fatal error (no final commit). */
  readonly fatal: boolean;
}

/**
 * The Kafka side of the stop (also after a fatal error): the final commit of the group's
 * offsets, leaving the group, closing the clients, in that order and within
 * `task.shutdown.graceful.timeout.ms` together. What is left when the time is up is abandoned
 * with a warning, and the consumer is closed without waiting, which ends its retries. Nothing of
 * it is needed for correctness: the ledger holds the positions, and the group coordinator
 * expires a member that did not leave.
 */
export async function stopKafkaSide(host: KafkaStopHost, commits: GroupOffset[]): Promise<void> {
  const steps: KafkaStopStep[] = [
    { name: 'closing the topic listing', leaves: false },
    ...(host.joined && commits.length > 0 && !host.fatal ? [{ name: 'committing the consumer group offsets', leaves: false }] : []),
    ...(host.joined ? [{ name: 'leaving the consumer group', leaves: true }] : []),
    { name: 'closing the consumer', leaves: false },
  ];
  let current = 0;
  let abandoned = false;
  const sequence = async (): Promise<void> => {
    // Closing its client ends a listing in flight at once (its retries included).
    await host.subscription.close();
    for (current = 1; current < steps.length && !abandoned; current++) {
      const step = steps[current]!.name;
      if (step === 'committing the consumer group offsets') {
        await host.consumer.commit({ offsets: commits }).catch((error: unknown) => {
          if (!abandoned) host.log.debug('Final commit failed', errorFields(error));
        });
      } else if (step === 'leaving the consumer group') {
        try {
          await host.consumer.leaveGroup(false);
        } catch (error) {
          if (!abandoned) host.log.warn('Leaving the consumer group failed', errorFields(error));
        }
      } else {
        await host.consumer.close(true).catch(() => undefined);
      }
    }
  };
  const timeoutMs = host.config.shutdownTimeoutMs;
  if (!(await settlesWithin(sequence(), timeoutMs))) {
    abandoned = true;
    const left = steps.slice(current);
    const stillMember = left.some((step) => step.leaves);
    const what = steps[current]!.name;
    host.log.warn(
      `${what[0]!.toUpperCase()}${what.slice(1)} timed out after ${timeoutMs} ms (task.shutdown.graceful.timeout.ms); ` +
        (stillMember
          ? `the group coordinator will expire the membership after consumer.session.timeout.ms (${host.config.sessionTimeoutMs} ms)`
          : 'the connections are dropped'),
      {
        abandoned: left.map((step) => step.name),
        timeoutMs,
        ...(stillMember ? { sessionTimeoutMs: host.config.sessionTimeoutMs } : {}),
      },
    );
    // Closed, the clients stop retrying: their requests fail at once rather than keep the process alive.
    host.subscription.abandon();
    void host.consumer.close(true).catch(() => undefined);
  }
}

/** One step of the Kafka side of a stop; `leaves`: the step that ends the group membership. */
interface KafkaStopStep {
  readonly name: string;
  readonly leaves: boolean;
}

/** True when `work` settles within `ms`; false when the time is up first (`work` goes on, unobserved). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
