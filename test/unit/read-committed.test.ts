import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchAttributes,
  ControlRecordType,
  MalformedControlRecordError,
  readCommitted,
  type AbortedTransaction,
  type FetchedBatch,
  type FetchedPartition,
  type FetchedRecord,
} from '../../lib/standalone/read-committed.ts';

/**
 * Read-committed filtering of a fetch response (issue 16, "Transactions"): the records Kafka's
 * Java consumer delivers (CompletedFetch), whatever the responses' cut points. The property test
 * builds a partition log of interleaved committed and aborted transactions of several producers
 * and plain records, serves it as a READ_COMMITTED broker does (batches below the last stable
 * offset, any number per response, the aborted transactions overlapping what was read, the
 * response cut anywhere, also inside a batch that the decoder then drops), and checks that the
 * records delivered over successive fetches are exactly the committed ones.
 */

const WHERE = { topic: 'orders', partition: 3 } as const;
const PLAIN = -1n;

interface Batch extends FetchedBatch {
  readonly records: FetchedRecord[];
}

/** A data batch of `count` records from `first`; `txn`: written inside a transaction of `producerId`. */
function data(first: number, count: number, producerId: bigint = PLAIN, txn = producerId !== PLAIN): Batch {
  return {
    firstOffset: BigInt(first),
    lastOffsetDelta: count - 1,
    attributes: txn ? BatchAttributes.transactional : 0,
    producerId,
    records: Array.from({ length: count }, (_, i) => ({ offsetDelta: i, key: Buffer.from(`k${first + i}`) })),
  };
}

/** A transaction marker (control batch of one record) at `offset`. */
function marker(offset: number, producerId: bigint, commit: boolean): Batch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? ControlRecordType.commit : ControlRecordType.abort, 2);
  return {
    firstOffset: BigInt(offset),
    lastOffsetDelta: 0,
    attributes: BatchAttributes.transactional | BatchAttributes.control,
    producerId,
    records: [{ offsetDelta: 0, key }],
  };
}

function aborted(producerId: bigint, firstOffset: number): AbortedTransaction {
  return { producerId, firstOffset: BigInt(firstOffset) };
}

function offsets(partition: FetchedPartition<Batch>, fetchOffset: number): { offsets: number[]; nextOffset: number } {
  const result = readCommitted(partition, fetchOffset, WHERE);
  return { offsets: result.records.map((r) => r.offset), nextOffset: result.nextOffset };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('readCommitted', () => {
  it('delivers plain records, never a control record, and moves past a trailing marker', () => {
    const P = 7n;
    const result = offsets({ records: [data(0, 3), data(3, 2, P), marker(5, P, true)], abortedTransactions: [] }, 0);
    expect(result).toEqual({ offsets: [0, 1, 2, 3, 4], nextOffset: 6 });
  });

  it('skips an aborted transaction whose marker is in the response and keeps the same producer’s committed one', () => {
    const P = 7n;
    const records = [data(0, 2, P), marker(2, P, false), data(3, 2, P), marker(5, P, true)];
    expect(offsets({ records, abortedTransactions: [aborted(P, 0)] }, 0)).toEqual({ offsets: [3, 4], nextOffset: 6 });
  });

  it('skips an aborted transaction when the response is cut before its marker, and the refetch delivers nothing of it', () => {
    const P = 7n;
    // The broker lists the aborted transaction (its marker is in the log at 4) though the response ends at 3.
    const first = offsets({ records: [data(0, 2), data(2, 2, P)], abortedTransactions: [aborted(P, 2)] }, 0);
    expect(first).toEqual({ offsets: [0, 1], nextOffset: 4 });
    const second = offsets({ records: [marker(4, P, false), data(5, 1)], abortedTransactions: [aborted(P, 2)] }, 4);
    expect(second).toEqual({ offsets: [5], nextOffset: 6 });
  });

  it('skips every aborted transaction of one producer in one response, not only the last', () => {
    const P = 7n;
    const records = [data(0, 2, P), marker(2, P, false), data(3, 1, P), marker(4, P, true), data(5, 2, P), marker(7, P, false), data(8, 1)];
    expect(offsets({ records, abortedTransactions: [aborted(P, 0), aborted(P, 5)] }, 0)).toEqual({ offsets: [3, 8], nextOffset: 9 });
  });

  it('takes the aborted transactions in first-offset order, whatever order the response lists them in', () => {
    const P = 7n;
    const Q = 8n;
    const records = [
      data(0, 1, P),
      data(1, 1, Q),
      marker(2, P, false),
      data(3, 1, Q),
      marker(4, Q, false),
      data(5, 1, P),
      marker(6, P, true),
    ];
    expect(offsets({ records, abortedTransactions: [aborted(Q, 1), aborted(P, 0)] }, 0)).toEqual({ offsets: [5], nextOffset: 7 });
  });

  it('keeps another producer’s committed batches interleaved with an aborted transaction', () => {
    const P = 7n;
    const Q = 8n;
    const records = [data(0, 1, P), data(1, 2, Q), data(3, 1, P), marker(4, Q, true), marker(5, P, false)];
    expect(offsets({ records, abortedTransactions: [aborted(P, 0)] }, 0)).toEqual({ offsets: [1, 2], nextOffset: 6 });
  });

  it('does not skip a producer’s batches before its aborted transaction begins', () => {
    const P = 7n;
    // The aborted transaction starts at 4, in a batch the response cut in the middle (dropped by the decoder).
    const records = [data(0, 3, P), marker(3, P, true)];
    expect(offsets({ records, abortedTransactions: [aborted(P, 4)] }, 0)).toEqual({ offsets: [0, 1, 2], nextOffset: 4 });
  });

  it('does not skip a non-transactional batch that carries a producer id', () => {
    const P = 7n;
    const records = [data(0, 1, P, true), data(1, 2, P, false), marker(3, P, false)];
    expect(offsets({ records, abortedTransactions: [aborted(P, 0)] }, 0)).toEqual({ offsets: [1, 2], nextOffset: 4 });
  });

  it('does not deliver again the records of a batch that began before the fetch offset', () => {
    expect(offsets({ records: [data(10, 5), data(15, 1)], abortedTransactions: null }, 13)).toEqual({
      offsets: [13, 14, 15],
      nextOffset: 16,
    });
  });

  it('leaves the position alone on an empty response', () => {
    expect(offsets({ records: [], abortedTransactions: [] }, 42)).toEqual({ offsets: [], nextOffset: 42 });
    expect(offsets({ records: null, abortedTransactions: null }, 42)).toEqual({ offsets: [], nextOffset: 42 });
  });

  it('counts the aborted batches it skipped', () => {
    const P = 7n;
    const records = [data(0, 1, P), data(1, 1, P), marker(2, P, false)];
    expect(readCommitted({ records, abortedTransactions: [aborted(P, 0)] }, 0, WHERE).abortedBatches).toBe(2);
  });

  it('refuses a control record whose key cannot say what marker it is, naming the partition and offset', () => {
    const P = 7n;
    const broken: Batch = { ...marker(5, P, false), records: [{ offsetDelta: 0, key: Buffer.from([0, 0]) }] };
    const run = (): unknown => readCommitted({ records: [data(0, 5, P), broken], abortedTransactions: [aborted(P, 0)] }, 0, WHERE);
    expect(run).toThrow(MalformedControlRecordError);
    expect(run).toThrow('orders-3: the control record at offset 5 has a key of 2 bytes');
  });
});

// ---------------------------------------------------------------------------------------------
// The property: a partition log served by a READ_COMMITTED broker, fetched piece by piece.

/** Producers 1..3 are transactional; PLAIN and 50 (idempotent, non-transactional) write plain records. */
type Action =
  | { readonly kind: 'data'; readonly producer: bigint; readonly count: number }
  | { readonly kind: 'end'; readonly producer: bigint; readonly commit: boolean };

const TRANSACTIONAL = [1n, 2n, 3n] as const;

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      producer: fc.constantFrom(PLAIN, 50n, ...TRANSACTIONAL),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('end' as const), producer: fc.constantFrom(...TRANSACTIONAL), commit: fc.boolean() }),
  },
);

interface Log {
  readonly batches: Batch[];
  /** Every aborted transaction with its marker's offset (the broker's transaction index). */
  readonly aborted: Array<AbortedTransaction & { readonly lastOffset: bigint }>;
  /** First offset of the oldest open transaction, else the log end. */
  readonly lastStableOffset: number;
  /** What a read-committed consumer must deliver. */
  readonly committed: number[];
}

function buildLog(actions: readonly Action[]): Log {
  const batches: Batch[] = [];
  const abortedTxns: Log['aborted'] = [];
  const open = new Map<bigint, { first: number; offsets: number[] }>();
  const committed: number[] = [];
  let end = 0;
  for (const a of actions) {
    if (a.kind === 'data') {
      const txn = TRANSACTIONAL.includes(a.producer as (typeof TRANSACTIONAL)[number]);
      batches.push(data(end, a.count, a.producer, txn));
      const written = range(end, end + a.count);
      if (txn) {
        const t = open.get(a.producer) ?? { first: end, offsets: [] };
        t.offsets.push(...written);
        open.set(a.producer, t);
      } else {
        committed.push(...written);
      }
      end += a.count;
    } else {
      const t = open.get(a.producer);
      if (!t) continue;
      open.delete(a.producer);
      batches.push(marker(end, a.producer, a.commit));
      if (a.commit) committed.push(...t.offsets);
      else abortedTxns.push({ producerId: a.producer, firstOffset: BigInt(t.first), lastOffset: BigInt(end) });
      end += 1;
    }
  }
  const lastStableOffset = Math.min(end, ...[...open.values()].map((t) => t.first));
  return {
    batches,
    aborted: abortedTxns,
    lastStableOffset,
    committed: committed.filter((o) => o < lastStableOffset).sort((x, y) => x - y),
  };
}

/** How one fetch is served and consumed. */
interface Cut {
  /** Complete batches in the response (at least one: the broker returns at least one batch). */
  readonly batches: number;
  /** Batches past the response's end that the broker's aborted-transaction look-up still covers (a byte cut inside a batch, or a segment's bound). */
  readonly beyond: number;
  /** When set: the consumer keeps only this many of the delivered records and fetches again after the last one kept (a flush, a restart from the ledger). */
  readonly keep: number | null;
  /** The response lists its aborted transactions in reverse. */
  readonly reversed: boolean;
}

const cut: fc.Arbitrary<Cut> = fc.record({
  batches: fc.integer({ min: 1, max: 4 }),
  beyond: fc.integer({ min: 0, max: 3 }),
  keep: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
  reversed: fc.boolean(),
});

const lastOffsetOf = (b: FetchedBatch): number => Number(b.firstOffset) + b.lastOffsetDelta;

/** What a READ_COMMITTED broker answers to a fetch at `fetchOffset`. */
function serve(log: Log, fetchOffset: number, c: Cut): FetchedPartition<Batch> | undefined {
  const readable = log.batches.filter((b) => Number(b.firstOffset) < log.lastStableOffset);
  const start = readable.findIndex((b) => lastOffsetOf(b) >= fetchOffset);
  if (start < 0) return undefined;
  const records = readable.slice(start, start + c.batches);
  const coveredTo = log.batches.indexOf(records.at(-1)!) + c.beyond;
  const upperBound = lastOffsetOf(log.batches[Math.min(coveredTo, log.batches.length - 1)]!) + 1;
  const abortedTransactions = log.aborted
    .filter((t) => t.lastOffset >= BigInt(fetchOffset) && t.firstOffset < BigInt(upperBound))
    .map(({ producerId, firstOffset }) => ({ producerId, firstOffset }));
  if (c.reversed) abortedTransactions.reverse();
  return { records, abortedTransactions };
}

/**
 * @platformatic/kafka 2.12.1's `#filterUncommittedMessages`, as a model: the worker's responses
 * pass through it before readCommitted sees them (Consumer.fetch applies it with READ_COMMITTED).
 */
function clientFilter(partition: FetchedPartition<Batch>): FetchedPartition<Batch> {
  const list = partition.abortedTransactions ?? [];
  if (list.length === 0) return partition;
  const ranges = new Map<bigint, [bigint, bigint]>();
  for (const t of list) ranges.set(t.producerId, [t.firstOffset, -1n]);
  for (const b of partition.records ?? []) {
    if (b.attributes & BatchAttributes.control && b.records[0]?.key?.readInt16BE(2) === 0) {
      const r = ranges.get(b.producerId);
      if (r) r[1] = b.firstOffset;
    }
  }
  return {
    ...partition,
    records: (partition.records ?? []).filter((b) => {
      const r = ranges.get(b.producerId);
      return !r || !(r[1] !== -1n && b.firstOffset >= r[0] && b.firstOffset < r[1]);
    }),
  };
}

/** Fetches the whole readable log, cut as `cuts` say (cycled); returns the delivered offsets and the final position. */
function consume(log: Log, cuts: readonly Cut[], withClientFilter: boolean): { delivered: number[]; position: number } {
  const delivered: number[] = [];
  let position = 0;
  for (let i = 0; i < 10_000; i++) {
    const c = cuts[i % cuts.length]!;
    const served = serve(log, position, c);
    if (!served) break;
    const response = withClientFilter ? clientFilter(served) : served;
    const result = readCommitted(response, position, WHERE);
    const got = result.records.map((r) => r.offset);
    if (c.keep !== null && c.keep < got.length) {
      delivered.push(...got.slice(0, c.keep));
      position = got[c.keep - 1]! + 1;
    } else {
      delivered.push(...got);
      expect(result.nextOffset).toBeGreaterThan(position);
      position = result.nextOffset;
    }
  }
  return { delivered, position };
}

describe('readCommitted over any cut of a transactional log', () => {
  it('delivers exactly the committed records below the last stable offset, once each, and ends at it', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), fc.array(cut, { minLength: 1, maxLength: 8 }), (actions, cuts) => {
        const log = buildLog(actions);
        const { delivered, position } = consume(log, cuts, false);
        expect(delivered).toEqual(log.committed);
        expect(position).toBe(log.lastStableOffset);
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives the same records after @platformatic/kafka’s own filter has run on the response', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), fc.array(cut, { minLength: 1, maxLength: 8 }), (actions, cuts) => {
        const log = buildLog(actions);
        const { delivered, position } = consume(log, cuts, true);
        expect(delivered).toEqual(log.committed);
        expect(position).toBe(log.lastStableOffset);
      }),
      { numRuns: 2_000 },
    );
  });
});
