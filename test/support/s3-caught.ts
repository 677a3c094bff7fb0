/** Shared by the S3 emulator test files and the S3 API contract. */
import { S3ServiceException } from '@aws-sdk/client-s3';
import { expect } from 'vitest';

/** The S3 error `p` fails with; fails the test when `p` succeeds or fails with something else. */
export async function caught(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(S3ServiceException);
    return err as S3ServiceException;
  }
  throw new Error('expected the request to fail');
}
