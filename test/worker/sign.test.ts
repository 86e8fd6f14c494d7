/** Wiro's signing, checked against vectors made with `openssl dgst -sha256 -hmac`. */
import { describe, expect, it } from 'vitest';
import { authHeaders, nextNonce, signature, verifyHmacHex } from '../../worker/wiro/sign';

describe('signature', () => {
  // Each vector: printf %s "$SECRET$NONCE" | openssl dgst -sha256 -hmac "$KEY"
  it.each([
    ['k', 's', '1', '38aeb20015af4b6ac8dccf4fdedf8ab01c83b980763c0710e75c25ee5c97d420'],
    [
      'test-key-4d1f9a',
      'test-secret-7c2e8b',
      '1732000000000',
      'cab5333ccead082ac8d76a7d050dc9e6da59955aea36cba662d906ccfa7ec693',
    ],
    [
      'key with spaces & ü',
      'ünïcødé-secret',
      '1700000000123',
      '502b4312601be2fec47ca4742bbbab23f4c1635d757db751118e6426c7a0775f',
    ],
  ])('key %j, secret %j, nonce %j matches openssl', async (key, secret, nonce, expected) => {
    expect(await signature(key, secret, nonce)).toBe(expected);
  });

  it('verifies its own signatures and refuses a changed one', async () => {
    const hex = await signature('k', 's', '1');
    expect(await verifyHmacHex('k', 's1', hex)).toBe(true);
    expect(await verifyHmacHex('k', 's1', hex.replace(/^./, hex[0] === 'a' ? 'b' : 'a'))).toBe(false);
    expect(await verifyHmacHex('k', 's1', 'not hex')).toBe(false);
  });
});

describe('nonce', () => {
  it('is unique and increasing under a burst of parallel requests', async () => {
    const nonces = await Promise.all(
      Array.from({ length: 500 }, async () => (await authHeaders('k', 's'))['x-nonce'] as string),
    );
    expect(new Set(nonces).size).toBe(500);
    const numbers = nonces.map(Number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });

  it('is milliseconds, bumped past the last one when the clock repeats or goes back', () => {
    const now = Date.now() + 1000;
    const first = Number(nextNonce(now));
    expect(first).toBe(now);
    expect(Number(nextNonce(now))).toBe(first + 1);
    expect(Number(nextNonce(now - 60_000))).toBe(first + 2);
  });

  it('sends x-api-key alone for an "API key only" project', async () => {
    expect(await authHeaders('only-key', undefined)).toEqual({ 'x-api-key': 'only-key' });
  });
});
