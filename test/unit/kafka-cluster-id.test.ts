import { describe, expect, it } from 'vitest';
import { randomClusterId } from '../../testkit/emulators/kafka-broker.ts';

describe('randomClusterId', () => {
  it('never starts with "-", which the storage tool would read as an option', () => {
    // 0xf8 as the first byte gives "-" (index 62) as the first base64url character.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x10)];
    const id = randomClusterId(() => draws.shift() ?? Buffer.alloc(16));
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(id).toBe(Buffer.alloc(16, 0x10).toString('base64url'));
  });

  it('gives 22 URL-safe characters', () => {
    for (let i = 0; i < 500; i++) expect(randomClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
