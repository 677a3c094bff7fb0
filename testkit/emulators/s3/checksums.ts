/** The S3 emulator's checksums: Content-MD5 and the flexible checksums (CRC32, CRC32C, SHA-1, SHA-256, CRC64NVME). */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { crc32 } from 'node:zlib';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type StoredObject } from './model.ts';
import { S3Error } from './replies.ts';
import { header } from './request.ts';

/** Verifies Content-MD5 and a flexible checksum (header or trailer); returns the checksum to store. */
export function verifyChecksums(
  h: IncomingMessage['headers'],
  trailers: Record<string, string>,
  body: Buffer,
): StoredObject['checksum'] | undefined {
  const md5 = header(h['content-md5']);
  if (md5 !== undefined) {
    const given = Buffer.from(md5, 'base64');
    if (given.length !== 16) throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (!given.equals(createHash('md5').update(body).digest())) {
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
  }
  let found: StoredObject['checksum'] | undefined;
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
    const value = header(h[name]) ?? trailers[name];
    if (value === undefined) continue;
    if (found !== undefined) {
      throw new S3Error(400, 'InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    }
    const actual = computeChecksum(algorithm, body);
    if (actual !== undefined && actual !== value) {
      throw new S3Error(400, 'BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
    }
    found = { algorithm, value };
  }
  return found;
}

function computeChecksum(algorithm: ChecksumAlgorithm, body: Buffer): string | undefined {
  switch (algorithm) {
    case 'CRC32':
      return u32(crc32(body));
    case 'CRC32C':
      return u32(crc32c(body));
    case 'SHA1':
      return createHash('sha1').update(body).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(body).digest('base64');
    case 'CRC64NVME':
      return undefined; // stored and returned, not verified
  }
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

let crc32cTable: Uint32Array | undefined;
function crc32c(data: Buffer): number {
  if (crc32cTable === undefined) {
    crc32cTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crc32cTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (crc32cTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
