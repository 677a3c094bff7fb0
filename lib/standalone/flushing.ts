/**
 * When the standalone worker's partitions flush. Partitions flush independently: each has at most
 * one flush in flight (its batches go out in order), and different partitions' flushes run at the
 * same time (up to `sink.max.concurrency`), so a slow upload of one partition holds up no other.
 * A partition flushes when it holds `flush.size` records, or when `offset.flush.interval.ms` has
 * elapsed.
 *
 * A flush takes up to `flush.size` records from the head of its partition's buffer, and they stay
 * there (`inFlight`) until delivered, while fetches append behind them (while fewer than
 * `flush.size` wait). A partition's next batch therefore starts only after its previous one is
 * delivered, at its first undelivered record, i.e. its committed offset + 1; after a failure the
 * buffer, what was fetched meanwhile included, is dropped and the partition positioned from the
 * ledger again. Each batch tells the core where its contiguous read began (`coversFrom`:
 * compaction gaps are not skips) and the topic id it was read from.
 */
import type { Clock } from '../core/ports.ts';
import type { PartitionDelivery } from './partition-delivery.ts';
import type { PartitionState } from './partition-state.ts';

/** What the scheduler needs of the worker. */
export interface FlushHost {
  readonly flushSize: number;
  readonly flushIntervalMs: number;
  readonly maxConcurrency: number;
  readonly clock: Clock;
  readonly delivery: PartitionDelivery;
  /** The assigned partitions now (the map is replaced at a rejoin). */
  partitions(): ReadonlyMap<string, PartitionState>;
  /** Wakes the fetch loop (a flush ended: buffer space). */
  wakeUp(): void;
  /** True while the fetch loop runs (not stopping, no fatal error): a flush that ends may start the next. */
  flushing(): boolean;
}

/** Starts the worker's flushes and keeps track of those in flight. */
export class FlushScheduler {
  readonly #host: FlushHost;
  #lastFlush: number;
  /**
   * Every flush in flight, resolving to its failed partitions: those of partitions dropped since
   * (revoked, a rejoin) included, which the ledger must outlive.
   */
  readonly #flights = new Set<Promise<number>>();

  constructor(host: FlushHost) {
    this.#host = host;
    this.#lastFlush = host.clock.now();
  }

  /** Settles when every flush in flight has (before the ledger is closed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#flights]);
  }

  /** Milliseconds until `offset.flush.interval.ms` is due (negative: overdue). */
  untilFlush(): number {
    return this.#lastFlush + this.#host.flushIntervalMs - this.#host.clock.now();
  }

  /** Records fetched and not yet delivered, over all partitions. */
  bufferedRecords(): number {
    let n = 0;
    for (const s of this.#host.partitions().values()) n += s.buffer.length;
    return n;
  }

  /**
   * Starts the flushes that are due, without waiting for them: the loop goes on fetching meanwhile
   * (up to `flush.size` records per partition besides those in flight). A partition flushes when
   * it holds `flush.size` records, or when `offset.flush.interval.ms` has elapsed (a partition
   * flushing then flushes what it holds as soon as that flush ends), one flush per partition at a
   * time and at most `sink.max.concurrency` flushes at once.
   */
  flushIfDue(): void {
    if (this.untilFlush() <= 0) {
      this.#lastFlush = this.#host.clock.now();
      for (const s of this.#host.partitions().values()) if (s.buffer.length > 0) s.intervalDue = true;
    }
    const limit = Math.max(1, this.#host.maxConcurrency);
    for (const s of this.#host.partitions().values()) {
      if (this.#flights.size >= limit) return;
      if (s.flushing || s.buffer.length === 0) continue;
      if (s.intervalDue) this.#startFlush('interval', [s]);
      else if (s.buffer.length >= this.#host.flushSize) this.#startFlush('flush.size', [s]);
    }
  }

  /** Starts delivering the head of each of `selected`'s buffers, none of which has a flush in flight. */
  #startFlush(reason: string, selected: readonly PartitionState[]): Promise<number> {
    for (const s of selected) s.intervalDue = false;
    const flight = this.#host.delivery.deliver(reason, selected).finally(() => {
      this.#flights.delete(flight);
      for (const s of selected) if (s.flushing === flight) s.flushing = undefined;
      // The partition's next batch may be waiting for this one: start it now, not when the loop's
      // fetch in flight returns (up to fetch.max.wait.ms, or a large response's decoding, later).
      if (this.#host.flushing()) this.flushIfDue();
      // The loop may be waiting for buffer space.
      this.#host.wakeUp();
    });
    for (const s of selected) s.flushing = flight;
    this.#flights.add(flight);
    flight.catch(() => undefined);
    return flight;
  }

  /**
   * Waits for the flushes in flight, then flushes every partition that holds records (rebalance,
   * stop). Returns how many partitions failed, in both.
   */
  async flushAll(reason: string): Promise<number> {
    let failed = 0;
    while (this.#flights.size > 0) failed += (await Promise.all([...this.#flights])).reduce((a, b) => a + b, 0);
    const selected = [...this.#host.partitions().values()].filter((s) => s.buffer.length > 0);
    return selected.length === 0 ? failed : failed + (await this.#startFlush(reason, selected));
  }
}
