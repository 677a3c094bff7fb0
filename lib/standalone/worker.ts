/**
 * The standalone worker: consumes straight from a Kafka cluster as a member of a consumer group
 * and delivers through the same core as the Lambda function (`deliverBatch`). This file is its
 * loop and state; the parts are beside it: the subscription (`topic-subscription.ts`), group
 * membership (`group-membership.ts`, `assignor.ts`), positioning (`positioning.ts`), fetching
 * (`fetching.ts`, `read-committed.ts`), flushing (`flushing.ts`, `partition-delivery.ts`) and the
 * Kafka side of the stop (`kafka-stop.ts`).
 *
 * Positions are the worker's own: the consumer group provides membership and assignment only,
 * and the worker fetches with explicit offsets. On start and whenever a partition is added to its
 * assignment, the partition is positioned at the ledger's committed offset + 1, which keeps the
 * protocol's one assumption (docs/protocol.md): a batch never starts above the ledger's committed
 * offset + 1. Within a partition, batches are contiguous from that start, so every later batch
 * starts there too (the ledger only moves forward); a partition whose delivery failed drops what
 * it holds and is positioned from the ledger again. The worker commits the group's offsets after
 * each flush, for lag tools; the ledger stays the source of truth.
 *
 * Rebalances are incremental (`consumer.partition.assignment.strategy`, cooperative-sticky by
 * default): a partition kept goes on untouched (its buffer, its position, a flush in flight), a
 * partition added is positioned as above, and a partition revoked is dropped, not delivered:
 * its new owner starts from the ledger, and a flush of ours still in flight for it is two
 * writers at one position, which the ledger's conditional writes arbitrate (the case of a
 * retried Lambda batch). With an eager assignor (roundrobin) the same code applies to whatever
 * each join assigns.
 *
 * A stop delivers what was fetched, whatever it takes: that is the guarantee, and it needs only
 * S3 and the ledger. The Kafka side of a stop is bounded instead: requests of the fetch loop
 * (fetches, metadata, joins, offset look-ups) are abandoned as soon as the stop is asked for.
 */
import { Consumer } from '@platformatic/kafka';
import type { DeliveryOptions } from '../delivery/options.ts';
import { kafkaClientOptions, type MskIamTokenSigner } from '../kafka/kafka-admin.ts';
import type { Clock, ObjectStore, OffsetLedger } from '../core/ports.ts';
import type { StandaloneConfig } from '../config/worker-config.ts';
import { errorFields, type WorkerLogger } from './log.ts';
import { Fetcher } from './fetching.ts';
import { type ClientOptions, groupConsumerOptions, joinGroup } from './group-membership.ts';
import { FlushScheduler } from './flushing.ts';
import { type AssignmentHost, applyAssignment } from './assignment.ts';
import { TopicSubscription } from './topic-subscription.ts';
import { type GroupOffset, PartitionDelivery } from './partition-delivery.ts';
import { StopRequestedError, WorkerFatalError } from './kafka-errors.ts';
import { stopKafkaSide } from './kafka-stop.ts';
import { type PartitionState, partitionKey, type WorkerStats, type WorkerStatus } from './partition-state.ts';

export { WorkerFatalError } from './kafka-errors.ts';
export type { WorkerStats, WorkerStatus } from './partition-state.ts';

export { TOPIC_RECREATED_MESSAGE } from './partition-delivery.ts';

export interface StandaloneWorkerDeps {
  readonly config: StandaloneConfig;
  readonly delivery: DeliveryOptions;
  readonly ledger: OffsetLedger;
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly logger: WorkerLogger;
  /** MSK IAM token signer (tests inject one). */
  readonly signer?: MskIamTokenSigner;
}

export class StandaloneWorker {
  readonly #config: StandaloneConfig;
  readonly #log: WorkerLogger;
  readonly #consumer: Consumer;
  readonly #clientOptions: ClientOptions;
  readonly #subscription: TopicSubscription;
  readonly #assignmentHost: AssignmentHost;
  #partitions = new Map<string, PartitionState>();
  /** Bumped whenever every partition is dropped (a rejoin): a fetch begun before is discarded. */
  #epoch = 0;
  /** Bumped with `#epoch`: an assignment positioned across a rejoin is positioned again. */
  #assignmentGeneration = 0;
  #assignmentDirty = false;
  /** Why the worker must join the group again, when it must. */
  #rejoinNeeded: string | undefined;
  #joined = false;
  #stopping = false;
  /** Rejects (with StopRequestedError) when a stop is asked for: Kafka requests of the fetch loop race it. */
  readonly #stopRequested: Promise<never>;
  #rejectOnStop: ((error: Error) => void) | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #flushes: FlushScheduler;
  #fatal: Error | undefined;
  readonly stats: WorkerStats;
  readonly #delivery: PartitionDelivery;
  readonly #fetcher: Fetcher;

  constructor(deps: StandaloneWorkerDeps) {
    const layout = deps.delivery.layout;
    this.#config = deps.config;
    this.#log = deps.logger;
    this.#stopRequested = new Promise<never>((_, reject) => {
      this.#rejectOnStop = reject;
    });
    // Nothing may be left waiting on it when the worker stops between requests.
    this.#stopRequested.catch(() => undefined);
    this.stats = {
      startedAt: deps.clock.now(),
      recordsFetched: 0,
      recordsDelivered: 0,
      bytesDelivered: 0,
      objectsWritten: 0,
      duplicatesSkipped: 0,
      skippedOffsets: 0,
      flushes: 0,
      failedPartitions: 0,
      refusedPartitions: 0,
      rebalances: 0,
    };
    this.#delivery = new PartitionDelivery({
      flushSize: deps.config.flushSize,
      delivery: deps.delivery,
      ledger: deps.ledger,
      store: deps.store,
      clock: deps.clock,
      log: deps.logger,
      stats: this.stats,
      redactKey: layout ? (key) => layout.redactKey(key, deps.delivery.prefix) : (key) => key,
      owns: (state) => this.#partitions.get(partitionKey(state.topic, state.partition)) === state,
      commitGroupOffsets: (offsets) => this.#commitGroupOffsets(offsets),
      fail: (error) => {
        this.#fatal = error;
      },
    });
    this.#flushes = new FlushScheduler({
      flushSize: deps.config.flushSize,
      flushIntervalMs: deps.config.flushIntervalMs,
      maxConcurrency: deps.delivery.maxConcurrency,
      clock: deps.clock,
      delivery: this.#delivery,
      partitions: () => this.#partitions,
      wakeUp: () => this.#wakeUp(),
      flushing: () => !this.#stopping && this.#fatal === undefined,
    });
    const config = this.#config;
    this.#clientOptions = kafkaClientOptions(
      { bootstrapServers: config.bootstrapServers, security: config.security, clientId: config.clientId, timeoutMs: 30_000 },
      deps.signer,
    );
    this.#consumer = new Consumer(groupConsumerOptions(config, this.#clientOptions));
    this.#assignmentHost = {
      ledger: deps.ledger,
      consumer: this.#consumer,
      autoOffsetReset: config.autoOffsetReset,
      clock: deps.clock,
      log: deps.logger,
      untilStop: (request) => this.#untilStop(request),
      partitions: () => this.#partitions,
      generation: () => this.#assignmentGeneration,
      stopping: () => this.#stopping,
      retryLater: () => {
        this.#assignmentDirty = true;
      },
      sleep: (ms) => this.#sleep(ms),
      refuse: (state, error) => this.#delivery.refuse(state, error),
    };
    this.#subscription = new TopicSubscription({
      config,
      clientOptions: this.#clientOptions,
      consumer: this.#consumer,
      log: deps.logger,
      stopping: () => this.#stopping,
      stopped: () => this.#stopping || this.#closed,
      onChanged: () => {
        this.#rejoinNeeded = 'subscription changed';
        this.#wakeUp();
      },
    });
    this.#fetcher = new Fetcher({
      config,
      consumer: this.#consumer,
      clock: deps.clock,
      log: deps.logger,
      stats: this.stats,
      partitions: () => this.#partitions,
      epoch: () => this.#epoch,
      stopping: () => this.#stopping,
      untilFlush: () => this.#flushes.untilFlush(),
      bufferedRecords: () => this.#flushes.bufferedRecords(),
      untilStop: (request) => this.#untilStop(request),
      sleep: (ms) => this.#sleep(ms),
      forget: (state) => {
        this.#partitions.delete(partitionKey(state.topic, state.partition));
        this.#assignmentDirty = true;
      },
      fail: (error) => {
        this.#fatal = error;
      },
    });
    this.#consumer.on('consumer:group:join', (payload) => {
      this.stats.rebalances++;
      this.#assignmentDirty = true;
      this.#log.info('Joined the consumer group', {
        groupId: payload.groupId,
        memberId: payload.memberId,
        generationId: payload.generationId,
        isLeader: payload.isLeader,
        assignments: payload.assignments,
      });
      this.#wakeUp();
    });
    // Also emitted by a cooperative revocation, whose assignment (without the revoked partitions)
    // is in place before the member joins again: stop fetching those at once.
    this.#consumer.on('consumer:group:rebalance', () => {
      this.#log.info('The consumer group is rebalancing');
      this.#assignmentDirty = true;
      this.#wakeUp();
    });
    this.#consumer.on('consumer:heartbeat:error', (payload) => this.#log.debug('Heartbeat failed', errorFields(payload.error)));
    // Emitted when a rejoin after a rebalance failed: the membership is gone until we join again.
    this.#consumer.on('error', (error: Error) => {
      this.#log.warn('The consumer lost its group membership; joining again', errorFields(error));
      this.#rejoinNeeded = 'membership lost';
      this.#wakeUp();
    });
  }

  /** What the status line shows. */
  status(): WorkerStatus {
    let buffered = 0;
    let refused = 0;
    let lag: number | undefined;
    for (const state of this.#partitions.values()) {
      buffered += state.buffer.length;
      if (state.retryAt === Number.POSITIVE_INFINITY) refused++;
      if (state.highWatermark !== undefined) lag = (lag ?? 0) + Math.max(0, state.highWatermark - state.position);
    }
    return { partitions: this.#partitions.size, refused, buffered, lag, stats: this.stats };
  }

  /** Asks the worker to stop: it stops fetching, flushes, commits and leaves the group. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#rejectOnStop?.(new StopRequestedError());
    this.#wakeUp();
  }

  /** Runs until `stop()`; rejects on a fatal error (after leaving the group). */
  async run(): Promise<void> {
    try {
      await this.#start();
      while (!this.#stopping && !this.#fatal) {
        try {
          if (this.#rejoinNeeded !== undefined) await this.#rejoin(this.#rejoinNeeded);
          if (this.#assignmentDirty) {
            this.#assignmentDirty = false;
            await applyAssignment(this.#assignmentHost);
          }
          await this.#fetcher.fetchOnce();
          this.#flushes.flushIfDue();
        } catch (error) {
          if (error instanceof WorkerFatalError) throw error;
          if (this.#stopping) break; // a Kafka request abandoned by the stop
          this.#log.warn('Worker loop step failed; retrying in 1 s', errorFields(error));
          await this.#sleep(1_000);
        }
      }
      if (this.#fatal) throw this.#fatal;
      // Graceful stop: deliver what is buffered (and whatever is buffered behind it).
      let ok = true;
      while (this.#flushes.bufferedRecords() > 0) {
        const before = this.#flushes.bufferedRecords();
        const failed = await this.#flushes.flushAll('shutdown');
        if (failed > 0) {
          ok = false;
          break;
        }
        if (this.#flushes.bufferedRecords() >= before) break;
      }
      if (!ok)
        throw new WorkerFatalError(
          'Some partitions could not be delivered at shutdown; they will be delivered again from the ledger on the next start',
        );
      if (this.#fatal) throw this.#fatal;
    } finally {
      // After a fatal error a flush may still be in flight: the ledger must outlive it.
      await this.#flushes.settled();
      await this.#close();
    }
  }

  // -------------------------------------------------------------------------------------------

  async #start(): Promise<void> {
    const config = this.#config;
    const topics = await this.#subscription.resolve();
    this.#log.info('Standalone worker starting', {
      name: config.name,
      groupId: config.groupId,
      clientId: config.clientId,
      bootstrapServers: config.bootstrapServers,
      topics,
      metadataMaxAgeMs: config.metadataMaxAgeMs,
      ledger: config.ledger.kind === 'file' ? { file: config.ledger.path } : { table: config.ledger.table },
      bucket: config.sink.bucket,
      prefix: config.sink.prefix,
      flushSize: config.flushSize,
      flushIntervalMs: config.flushIntervalMs,
      autoOffsetReset: config.autoOffsetReset,
      security: config.security.kind,
    });
    this.#subscription.begin();
    await this.#join();
  }

  async #join(): Promise<void> {
    const joined = await joinGroup(
      {
        config: this.#config,
        clientOptions: this.#clientOptions,
        consumer: this.#consumer,
        log: this.#log,
        stopping: () => this.#stopping,
        untilStop: (request) => this.#untilStop(request),
        sleep: (ms) => this.#sleep(ms),
      },
      !this.#joined,
    );
    if (joined) {
      this.#joined = true;
      this.#assignmentDirty = true;
    }
  }

  async #rejoin(reason: string): Promise<void> {
    this.#rejoinNeeded = undefined;
    // Our partitions may be someone else's by now: deliver what we hold, then hold nothing.
    await this.#flushes.flushAll(reason);
    this.#partitions = new Map();
    this.#epoch++;
    this.#assignmentGeneration++;
    await this.#join();
  }

  /** After a flush: the group's offsets, for lag tools (the ledger stays the source of truth). */
  async #commitGroupOffsets(offsets: GroupOffset[]): Promise<void> {
    // While stopping, the final commit (#close) commits these offsets, within the shutdown bound.
    if (!this.#joined || this.#stopping) return;
    try {
      await this.#untilStop(this.#consumer.commit({ offsets }));
    } catch (error) {
      // Informational only (the ledger is the source of truth); refused during rebalances.
      if (!this.#stopping) this.#log.debug('Committing the consumer group offsets failed', errorFields(error));
    }
  }

  /** The Kafka side of the stop (`stopKafkaSide`), with the group's offsets as the ledger has them. */
  async #close(): Promise<void> {
    this.#closed = true;
    this.#subscription.stopTimer();
    // A refused partition's position is the old topic's: lag tools must not take it for the new one's.
    const commits = [...this.#partitions.values()]
      .filter((s) => s.retryAt !== Number.POSITIVE_INFINITY)
      .map((s) => ({
        topic: s.topic,
        partition: s.partition,
        offset: BigInt(s.bufferStart),
        leaderEpoch: -1,
      }));
    await stopKafkaSide(
      {
        config: this.#config,
        consumer: this.#consumer,
        subscription: this.#subscription,
        log: this.#log,
        joined: this.#joined,
        fatal: this.#fatal !== undefined,
      },
      commits,
    );
    this.#log.info('Standalone worker stopped', {
      recordsDelivered: this.stats.recordsDelivered,
      objectsWritten: this.stats.objectsWritten,
      flushes: this.stats.flushes,
      ...(this.stats.refusedPartitions > 0 ? { refusedPartitions: this.stats.refusedPartitions } : {}),
    });
  }

  /** A Kafka request of the fetch loop, abandoned (StopRequestedError) when a stop is asked for. */
  #untilStop<T>(request: Promise<T>): Promise<T> {
    // An abandoned request still settles later, unobserved.
    request.catch(() => undefined);
    return Promise.race([request, this.#stopRequested]);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
