/**
 * The standalone worker's subscription: the topics of `topics` (or matching `topics.regex`) on the
 * cluster, with their partition counts, listed at start and again every
 * `consumer.metadata.max.age.ms`, as a Kafka consumer's pattern subscription does. Topics that now
 * match, and partitions added to a subscribed topic, make the worker join the group again so that
 * they are assigned.
 */
import { Admin, type Consumer } from '@platformatic/kafka';
import type { StandaloneConfig } from '../config/worker-config.ts';
import type { kafkaClientOptions } from '../kafka/kafka-admin.ts';
import { describeKafkaError, WorkerFatalError } from './kafka-errors.ts';
import { errorFields, type WorkerLogger } from './log.ts';

/** The subscribed topics on the cluster, with their partition counts, and the listed topics it lacks. */
interface TopicListing {
  readonly partitions: Map<string, number>;
  readonly missing: string[];
}

/** What the subscription needs of the worker. */
export interface SubscriptionHost {
  readonly config: StandaloneConfig;
  readonly clientOptions: ReturnType<typeof kafkaClientOptions>;
  readonly consumer: Consumer;
  readonly log: WorkerLogger;
  /** A stop was asked for. */
  stopping(): boolean;
  /** A stop was asked for, or the worker is closing: schedule nothing more. */
  stopped(): boolean;
  /** The subscription changed (topics tracked, the client's metadata cache dropped): join the group again. */
  onChanged(): void;
}

/** The worker's subscribed topics, kept up to date with the cluster's. */
export class TopicSubscription {
  readonly #host: SubscriptionHost;
  /** The subscribed topics and their partition counts, as last listed. */
  #subscribed = new Map<string, number>();
  /** The next listing of the topics (a timer beside the fetch loop), the one in flight and its client. */
  #listingTimer: NodeJS.Timeout | undefined;
  #listing: Promise<void> | undefined;
  #listingAdmin: Admin | undefined;

  constructor(host: SubscriptionHost) {
    this.#host = host;
  }

  /** At start: the subscribed topics (their names); none, or a listed topic missing, is fatal. */
  async resolve(): Promise<string[]> {
    let listed: TopicListing;
    try {
      listed = await this.#listTopics();
    } catch (error) {
      throw new WorkerFatalError(
        `Cannot list the topics of ${this.#host.config.bootstrapServers.join(',')}: ${describeKafkaError(error)}`,
        {
          cause: error,
        },
      );
    }
    const topics = this.#host.config.topics;
    if (topics.kind === 'regex' && listed.partitions.size === 0) {
      throw new WorkerFatalError(`No topic on the cluster matches topics.regex ${topics.pattern.source}`);
    }
    if (listed.missing.length > 0) {
      throw new WorkerFatalError(`Unknown Kafka topic(s): ${listed.missing.join(', ')} (the worker never creates topics)`);
    }
    this.#subscribed = listed.partitions;
    return [...listed.partitions.keys()];
  }

  /** After `resolve()`: tracks the topics (the subscription the group's JoinGroup sends) and starts listing them again periodically. */
  begin(): void {
    for (const topic of this.#subscribed.keys()) this.#host.consumer.topics.track(topic);
    this.#scheduleListing();
  }

  /** At the stop: no further listing. */
  stopTimer(): void {
    clearTimeout(this.#listingTimer);
  }

  /** Ends a listing in flight at once (closing its client ends its retries too), and waits for it. */
  async close(): Promise<void> {
    await this.#listingAdmin?.close().catch(() => undefined);
    await this.#listing;
  }

  /** The stop's time is up: drop the listing's connections without waiting. */
  abandon(): void {
    void this.#listingAdmin?.close().catch(() => undefined);
  }

  /**
   * The subscribed topics the cluster has now (the list, or the topics matching `topics.regex`)
   * with their partition counts, and the listed topics it does not have.
   */
  async #listTopics(): Promise<TopicListing> {
    const admin = new Admin({ ...this.#host.clientOptions, clientId: `${this.#host.config.clientId}-admin` });
    this.#listingAdmin = admin;
    try {
      const existing = await admin.listTopics({ includeInternals: false });
      const topics = this.#host.config.topics;
      const names =
        topics.kind === 'regex'
          ? existing.filter((topic) => topics.pattern.test(topic)).sort()
          : topics.names.filter((topic) => existing.includes(topic));
      const missing = topics.kind === 'regex' ? [] : topics.names.filter((topic) => !existing.includes(topic));
      const partitions = new Map<string, number>();
      if (names.length > 0) {
        const metadata = await admin.metadata({ topics: names, forceUpdate: true, autocreateTopics: false });
        for (const name of names) {
          const count = metadata.topics.get(name)?.partitionsCount;
          if (count !== undefined) partitions.set(name, count);
        }
      }
      return { partitions, missing };
    } finally {
      if (this.#listingAdmin === admin) this.#listingAdmin = undefined;
      await admin.close().catch(() => undefined);
    }
  }

  /**
   * Lists the topics again `consumer.metadata.max.age.ms` after the last listing ended. A timer,
   * not a step of the fetch loop: a loop stuck retrying fetches from an unreachable cluster must
   * not stretch the interval, and a slow listing must not hold deliveries up. A failure is logged
   * and waits for the next interval.
   */
  #scheduleListing(): void {
    if (this.#host.stopped()) return;
    this.#listingTimer = setTimeout(() => {
      this.#listingTimer = undefined;
      this.#listing = this.#listTopics()
        .then(
          (listed) => this.#onTopicsListed(listed.partitions),
          (error: unknown) => {
            if (this.#host.stopping()) return;
            this.#host.log.warn('Listing the topics failed; trying again at the next metadata refresh', {
              retryInMs: this.#host.config.metadataMaxAgeMs,
              ...errorFields(error),
            });
          },
        )
        .finally(() => {
          this.#listing = undefined;
          this.#scheduleListing();
        });
    }, this.#host.config.metadataMaxAgeMs);
  }

  /**
   * Compares a new listing with the subscription. New topics, or more partitions, are only
   * assigned by a rebalance, and @platformatic/kafka's group leader assigns the topics that it
   * tracks itself (`consumer.topics`, also the subscription its JoinGroup sends), with the
   * partition counts of its metadata cache (kept 5 s), to all members. So the topics are tracked,
   * the cache is dropped, and the worker joins again. When a follower notices first, its rejoin
   * may assign nothing new (or not rebalance at all, with an unchanged subscription); the leader,
   * listing the same topics on the same schedule, rebalances at its own refresh.
   */
  #onTopicsListed(listed: ReadonlyMap<string, number>): void {
    if (this.#host.stopping()) return;
    const topicsAdded = [...listed.keys()].filter((topic) => !this.#subscribed.has(topic));
    const topicsGone = [...this.#subscribed.keys()].filter((topic) => !listed.has(topic));
    const partitionsAdded = [...listed]
      .filter(([topic, count]) => count > (this.#subscribed.get(topic) ?? count))
      .map(([topic, count]) => ({ topic, from: this.#subscribed.get(topic)!, to: count }));
    if (topicsAdded.length === 0 && topicsGone.length === 0 && partitionsAdded.length === 0) return;
    if (topicsAdded.length > 0 || partitionsAdded.length > 0) {
      this.#host.log.info('New topics or partitions: joining the group again to have them assigned', {
        topicsAdded: topicsAdded.map((topic) => ({ topic, partitions: listed.get(topic) })),
        partitionsAdded,
      });
    }
    if (topicsGone.length > 0) {
      // A deleted topic left subscribed would fail every assignment and fetch: drop it (it is
      // subscribed again if it comes back).
      this.#host.log.warn('Subscribed topics are no longer on the cluster: dropping them', { topicsGone });
    }
    for (const topic of topicsAdded) this.#host.consumer.topics.track(topic);
    for (const topic of topicsGone) this.#host.consumer.topics.untrack(topic);
    this.#subscribed = new Map(listed);
    this.#host.consumer.clearMetadata();
    this.#host.onChanged();
  }
}
