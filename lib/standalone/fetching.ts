/**
 * The standalone worker's fetching: one round of READ_COMMITTED fetches with explicit offsets
 * (`Consumer.fetch`), one request per partition leader, over every assigned partition with room
 * in its buffer; the records are appended to the partitions' buffers and their positions moved
 * on. A position that left the log (retention, truncation) is clamped to it.
 *
 * Fetches are READ_COMMITTED, filtered as Kafka's Java consumer does (`read-committed.ts`): the
 * broker stops at the last stable offset, and no record of an aborted transaction is delivered.
 */
import { type ClusterMetadata, type Consumer, FetchIsolationLevels } from '@platformatic/kafka';
import type { KafkaHeader } from '../core/model.ts';
import type { Clock } from '../core/ports.ts';
import type { StandaloneConfig } from '../config/worker-config.ts';
import { describeKafkaError, hasApiId, isAuthError, WorkerFatalError } from './kafka-errors.ts';
import { errorFields, type WorkerLogger } from './log.ts';
import { groupByTopic, type PartitionState, partitionKey, type WorkerStats } from './partition-state.ts';
import { readCommitted } from './read-committed.ts';

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

const LOG_APPEND_TIME = 0x08;
const EARLIEST = -2n;
const LATEST = -1n;

/** What fetching needs of the worker. */
export interface FetchHost {
  readonly config: StandaloneConfig;
  readonly consumer: Consumer;
  readonly clock: Clock;
  readonly log: WorkerLogger;
  readonly stats: WorkerStats;
  /** The assigned partitions now (the map is replaced at a rejoin). */
  partitions(): ReadonlyMap<string, PartitionState>;
  /** Bumped whenever every partition is dropped: a fetch begun before is discarded. */
  epoch(): number;
  stopping(): boolean;
  /** Milliseconds until `offset.flush.interval.ms` is due (negative: overdue). */
  untilFlush(): number;
  bufferedRecords(): number;
  /** A Kafka request abandoned (rejected) when a stop is asked for. */
  untilStop<T>(request: Promise<T>): Promise<T>;
  /** Sleeps, woken early by a stop or a finished flush. */
  sleep(ms: number): Promise<void>;
  /** Drops a partition whose topic was created again, to be positioned as added at the next assignment pass. */
  forget(state: PartitionState): void;
  /** A failure retrying cannot help: the worker stops. */
  fail(error: WorkerFatalError): void;
}

/** Fetches for the worker's partitions. */
export class Fetcher {
  readonly #host: FetchHost;

  constructor(host: FetchHost) {
    this.#host = host;
  }

  /** One fetch round over every assigned partition that may fetch, one request per leader. */
  async fetchOnce(): Promise<void> {
    const now = this.#host.clock.now();
    // Records in flight do not count: a partition fetches its next flush.size while its flush runs.
    const ready = [...this.#host.partitions().values()].filter(
      (s) => s.buffer.length - s.inFlight < this.#host.config.flushSize && s.retryAt <= now,
    );
    if (ready.length === 0) {
      await this.#host.sleep(Math.max(10, Math.min(200, this.#host.untilFlush())));
      return;
    }
    const epoch = this.#host.epoch();
    const topics = [...new Set(ready.map((s) => s.topic))];
    const metadata: ClusterMetadata = await this.#host.untilStop(this.#host.consumer.metadata({ topics }));
    const names = new Map<string, string>();
    const byNode = new Map<number, PartitionState[]>();
    for (const state of ready) {
      const topic = metadata.topics.get(state.topic);
      const partition = topic?.partitions[state.partition];
      if (!topic || !partition) continue;
      if (state.topicId !== undefined && topic.id !== state.topicId) {
        // The topic was deleted and created again under this worker: forget the partition, so
        // that the next assignment pass positions it as added, which checks it against the
        // ledger's topic id (a flush of it in flight goes on, arbitrated by the ledger).
        this.#host.forget(state);
        continue;
      }
      names.set(topic.id, state.topic);
      const list = byNode.get(partition.leader) ?? [];
      list.push(state);
      byNode.set(partition.leader, list);
    }
    const hasBuffered = this.#host.bufferedRecords() > 0;
    const maxWaitTime = hasBuffered
      ? Math.max(0, Math.min(this.#host.config.fetchMaxWaitMs, this.#host.untilFlush()))
      : this.#host.config.fetchMaxWaitMs;
    await Promise.all(
      [...byNode].map(async ([node, states]) => {
        const requested = new Map(states.map((s) => [partitionKey(s.topic, s.partition), s.position]));
        const byTopic = new Map<string, PartitionState[]>();
        for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s]);
        let response: FetchResponse;
        try {
          response = await this.#host.untilStop(
            this.#host.consumer.fetch({
              node,
              maxWaitTime,
              minBytes: 1,
              // Always: the broker then stops at the last stable offset and lists aborted transactions (#take).
              isolationLevel: FetchIsolationLevels.READ_COMMITTED,
              topics: [...byTopic].map(([topic, list]) => ({
                topicId: metadata.topics.get(topic)!.id,
                partitions: list.map((s) => ({
                  partition: s.partition,
                  fetchOffset: BigInt(s.position),
                  currentLeaderEpoch: -1,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: this.#host.config.maxPartitionFetchBytes,
                })),
              })),
            }),
          );
        } catch (error) {
          await this.#onFetchError(error, states, epoch);
          return;
        }
        if (epoch !== this.#host.epoch()) return; // re-positioned meanwhile: this data is stale
        this.#take(response, names, requested);
      }),
    );
  }

  /** Appends fetched records to the partitions' buffers and moves their positions on. */
  #take(response: FetchResponse, names: ReadonlyMap<string, string>, requested: ReadonlyMap<string, number>): void {
    for (const topicResponse of response.responses) {
      const topic = names.get(topicResponse.topicId) ?? topicResponse.topicId;
      for (const p of topicResponse.partitions) {
        const key = partitionKey(topic, p.partitionIndex);
        const state = this.#host.partitions().get(key);
        const from = requested.get(key);
        if (!state || from === undefined || state.position !== from || p.errorCode !== 0) continue;
        state.highWatermark = Number(p.highWatermark);
        // Read committed as Kafka's Java consumer (not the client's filter, which lets aborted
        // records through): no aborted or control record, and the position past all batches.
        const { records, nextOffset: next } = readCommitted(p, state.position, { topic, partition: p.partitionIndex });
        for (const { batch, record, offset } of records) {
          const logAppend = (batch.attributes & LOG_APPEND_TIME) !== 0;
          const headers: KafkaHeader[] = record.headers.map(([hk, hv]: [Buffer | null, Buffer | null]) => ({
            key: hk === null ? '' : hk.toString('utf8'),
            value: hv ?? new Uint8Array(0),
          }));
          state.buffer.push({
            topic,
            partition: p.partitionIndex,
            offset,
            timestamp: Number(logAppend ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
            timestampType: logAppend ? 'LOG_APPEND_TIME' : 'CREATE_TIME',
            key: record.key,
            value: record.value,
            headers,
          });
          this.#host.stats.recordsFetched++;
        }
        state.position = next;
      }
    }
  }

  async #onFetchError(error: unknown, states: readonly PartitionState[], epoch: number): Promise<void> {
    if (this.#host.stopping()) return; // abandoned by the stop, or failed meanwhile: nothing more is fetched
    if (isAuthError(error)) {
      this.#host.fail(
        new WorkerFatalError(`Kafka refused the credentials or a permission: ${describeKafkaError(error)}`, { cause: error }),
      );
      return;
    }
    if (hasApiId(error, 'OFFSET_OUT_OF_RANGE') && epoch === this.#host.epoch()) {
      // Our position left the log (retention deleted it, or the log was truncated): clamp it.
      const grouped = groupByTopic(states.filter((s) => s.buffer.length === 0));
      if (grouped.size > 0) {
        const request = { topics: [...grouped.keys()], partitions: Object.fromEntries(grouped) };
        const [earliest, latest] = await this.#host.untilStop(
          Promise.all([
            this.#host.consumer.listOffsets({ ...request, timestamp: EARLIEST }),
            this.#host.consumer.listOffsets({ ...request, timestamp: LATEST }),
          ]),
        );
        for (const s of states) {
          const low = Number(earliest.get(s.topic)?.[s.partition] ?? -1n);
          const high = Number(latest.get(s.topic)?.[s.partition] ?? -1n);
          if (low >= 0 && s.position < low) {
            this.#host.log.warn('Position below the log start (records deleted by retention before delivery): skipping to the log start', {
              partition: `${s.topic}-${s.partition}`,
              position: s.position,
              logStart: low,
            });
            s.position = s.bufferStart = low;
          } else if (high >= 0 && s.position > high) {
            this.#host.log.warn('Position above the high-water mark (log truncated): moving to it', {
              partition: `${s.topic}-${s.partition}`,
              position: s.position,
              highWatermark: high,
            });
            s.position = s.bufferStart = high;
          }
        }
        return;
      }
    }
    this.#host.log.warn('Fetch failed; trying again', {
      partitions: states.map((s) => `${s.topic}-${s.partition}`),
      ...errorFields(error),
    });
    await this.#host.sleep(500);
  }
}
