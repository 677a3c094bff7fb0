/**
 * The object store's contract, as Vitest cases to register against every implementation
 * (`test/integration/object-store-contract.test.ts`: in memory, the S3 adapter on the project's S3
 * emulator, the S3 adapter on moto's server).
 *
 * Two layers. The `ObjectStore` port's cases run against every implementation. The S3 API cases
 * (what the S3 adapters rely on from S3: conditional writes, listing, checksums, DeleteObjects) run
 * where the implementation declares `StoreCapability.s3Api`. Where an implementation departs from
 * what AWS documents, it declares the `StoreDeviation`; the case then pins its actual behaviour
 * and its name says so and names the AWS reference page, so that no difference passes unseen.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError } from '../../lib/core/errors.ts';
import type { ObjectStore } from '../../lib/core/ports.ts';
import { s3ApiCases } from './s3-api-contract.ts';

/** What an implementation offers beyond the port; the cases that need one run only where it is declared. */
export const StoreCapability = {
  /** The store is the S3 adapter over an S3 API the suite can also call directly. */
  s3Api: 's3Api',
} as const;
export type StoreCapability = (typeof StoreCapability)[keyof typeof StoreCapability];

/**
 * A departure from S3's documented behaviour, declared by the implementation that has it. Each
 * names what S3 does (`STORE_DEVIATIONS`); the case pins what the implementation does instead.
 */
export const StoreDeviation = {
  /** PutObject stores a body whose Content-MD5 does not match. */
  contentMd5Unchecked: 'contentMd5Unchecked',
  /** PutObject stores a body whose x-amz-checksum-crc32 does not match. */
  checksumUnchecked: 'checksumUnchecked',
  /** DeleteObjects with Quiet lists every key under Deleted. */
  quietDeleteListsDeleted: 'quietDeleteListsDeleted',
  /** A conditional upload overtaken while its body arrives gets 412, never 409 ConditionalRequestConflict. */
  noConflictInFlight: 'noConflictInFlight',
} as const;
export type StoreDeviation = (typeof StoreDeviation)[keyof typeof StoreDeviation];

/** What S3 documents for each deviation, and where (the AWS page a reader checks it against). */
const STORE_DEVIATIONS: Readonly<Record<StoreDeviation, string>> = {
  contentMd5Unchecked: 'S3 refuses it with 400 BadDigest (S3 API reference, PutObject, header Content-MD5; Error responses, BadDigest)',
  checksumUnchecked:
    'S3 refuses it with 400 BadDigest (S3 API reference, PutObject, header x-amz-checksum-crc32; S3 User Guide, "Checking object integrity in Amazon S3")',
  quietDeleteListsDeleted:
    'S3 lists no key under Deleted in quiet mode (S3 API reference, DeleteObjects: "In quiet mode the response includes only keys where the delete operation encountered an error")',
  noConflictInFlight:
    'S3 answers 409 ConditionalRequestConflict (S3 API reference, PutObject: "If a conflicting operation occurs during the upload S3 returns a 409 ConditionalRequestConflict response"; Error responses, ConditionalRequestConflict)',
};

/** The S3 API under an S3 adapter: a client, its endpoint (for requests by hand) and a bucket. */
export interface S3Api {
  readonly client: S3Client;
  readonly endpoint: string;
  readonly bucket: string;
}

/** One object store started for an implementation's cases (keys of different cases never overlap). */
export interface StoreUnderTest {
  readonly store: ObjectStore;
  /** The stored body as text (a probe for the cases), or undefined when there is no object. */
  bodyOf(key: string): Promise<string | undefined>;
  /** Present exactly when the implementation declares `StoreCapability.s3Api`. */
  readonly s3?: S3Api;
  stop(): Promise<void>;
}

/** An implementation of the `ObjectStore` port, with what it offers and where it departs from S3. */
export interface ObjectStoreImplementation {
  readonly name: string;
  readonly capabilities: readonly StoreCapability[];
  readonly deviations: readonly StoreDeviation[];
  start(): Promise<StoreUnderTest>;
}

/**
 * A case's name for this implementation: `conforming` when it behaves as S3 documents, otherwise
 * what it does and what S3 documents instead.
 */
function caseName(impl: ObjectStoreImplementation, deviation: StoreDeviation, conforming: string, deviating: string): string {
  return impl.deviations.includes(deviation)
    ? `${deviating} (DEVIATES: ${STORE_DEVIATIONS[deviation]})`
    : `${conforming} (as S3 documents)`;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Registers the object store contract's cases for `impl`, in a describe block of its own. */
export function objectStoreContract(impl: ObjectStoreImplementation): void {
  describe(`ObjectStore contract: ${impl.name} (capabilities: ${impl.capabilities.join(', ') || 'the port only'})`, () => {
    let t: StoreUnderTest;
    // moto may be installed by the global setup on a cold cache; a loaded machine starts it slowly.
    beforeAll(async () => {
      t = await impl.start();
      expect(t.s3 !== undefined, 'the S3 API is present exactly when s3Api is declared').toBe(
        impl.capabilities.includes(StoreCapability.s3Api),
      );
    }, 300_000);
    afterAll(async () => {
      await t?.stop();
    });

    it('putIfAbsent: the second writer of a key gets ObjectExistsError, and the first object stays', async () => {
      await t.store.putIfAbsent({ key: 'cond/create', body: text('first'), contentType: 'text/plain', metadata: {} });
      await expect(
        t.store.putIfAbsent({ key: 'cond/create', body: text('second'), contentType: 'text/plain', metadata: {} }),
      ).rejects.toThrow(ObjectExistsError);
      expect(await t.bodyOf('cond/create')).toBe('first');
    });

    it('two concurrent putIfAbsent of one key: exactly one succeeds, the other gets ObjectExistsError', async () => {
      const writers = ['a', 'b'];
      const results = await Promise.allSettled(
        writers.map((who) => t.store.putIfAbsent({ key: 'cond/race', body: text(who), contentType: 'text/plain', metadata: {} })),
      );
      const winners = writers.filter((_, i) => results[i]?.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected');
      expect(lost?.status === 'rejected' ? lost.reason : undefined).toBeInstanceOf(ObjectExistsError);
      expect(await t.bodyOf('cond/race')).toBe(winners[0]);
    });

    const metadata = { 'Sink-First-Offset': '10', 'sink-last-offset': '12' };
    it('head returns the size and the user metadata, names lower-cased (as S3 documents); undefined for a missing key', async () => {
      await t.store.putIfAbsent({ key: 'meta/one.jsonl', body: text('{"a":1}\n'), contentType: 'application/x-ndjson', metadata });
      expect(await t.store.head('meta/one.jsonl')).toEqual({
        key: 'meta/one.jsonl',
        size: 8,
        metadata: { 'sink-first-offset': '10', 'sink-last-offset': '12' },
      });
      expect(await t.store.head('meta/missing')).toBeUndefined();
    });

    if (impl.capabilities.includes(StoreCapability.s3Api)) {
      describe('the S3 API under the adapter', () =>
        s3ApiCases({
          s3: () => t.s3!,
          deviates: (deviation) => impl.deviations.includes(deviation),
          caseName: (deviation, conforming, deviating) => caseName(impl, deviation, conforming, deviating),
        }));
    }
  });
}
