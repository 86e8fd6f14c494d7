/**
 * The relay's signatures, checked by the reference receiver: the `standardwebhooks` package, as a
 * client's server would run it. A secret with or without `whsec_` must verify; a changed body or
 * another secret must not; a secret that is not base64 is refused with a message saying so.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, webhookSecretProblem } from '../../worker/task/webhook';

// The Worker's test secret (test/worker/vitest.config.ts), and one as `openssl rand -base64 32` prints it.
const BASE64_SECRETS = ['dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3OA==', 'q2Zf6r0cH0xM8b4Yq1QmS1y7Jc0oVn+9u3x/2pW6kLs='];
const BODY = JSON.stringify({
  type: 'task.completed',
  timestamp: '2026-01-01T00:00:00.000Z',
  data: { id: '1', s: 'ü ✓' },
});

async function signedHeaders(secret: string, body = BODY) {
  const id = 'msg_2b7c1f0e';
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signWebhook(secret, id, timestamp, body),
  };
}

describe('signWebhook, verified by the standardwebhooks package', () => {
  describe.each(BASE64_SECRETS)('secret %s', (base64) => {
    it.each([`whsec_${base64}`, base64])('verifies when both sides hold %s', async (secret) => {
      const headers = await signedHeaders(secret);
      expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
      // The receiver may write the secret the other way; the key is the same.
      const other = secret.startsWith('whsec_') ? base64 : `whsec_${base64}`;
      expect(new Webhook(other).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    });

    it('fails for a changed body', async () => {
      const headers = await signedHeaders(`whsec_${base64}`);
      const tampered = BODY.replace('task.completed', 'task.failed');
      expect(() => new Webhook(`whsec_${base64}`).verify(tampered, headers)).toThrow(/signature/i);
    });

    it('fails for another secret', async () => {
      const headers = await signedHeaders(`whsec_${base64}`);
      const another = BASE64_SECRETS.find((candidate) => candidate !== base64)!;
      expect(() => new Webhook(`whsec_${another}`).verify(BODY, headers)).toThrow(/signature/i);
    });
  });

  it('matches the package signing the same message', async () => {
    const secret = `whsec_${BASE64_SECRETS[1]}`;
    const timestamp = 1_767_225_600;
    expect(await signWebhook(secret, 'msg_1', timestamp, BODY)).toBe(
      new Webhook(secret).sign('msg_1', new Date(timestamp * 1000), BODY),
    );
  });

  it('takes base64 without padding, as the package does', async () => {
    const secret = 'whsec_QUJDRA';
    expect(await signWebhook(secret, 'msg_1', 1, BODY)).toBe(new Webhook(secret).sign('msg_1', new Date(1000), BODY));
  });
});

describe('a WEBHOOK_SECRET that is not whsec_ + base64', () => {
  it.each([
    '',
    'whsec_',
    'my webhook secret',
    'plain-text-secret',
    'whsec_not base64!',
    'whsec_dGVzdA==\n',
    ' whsec_dGVzdA==',
    'whsec_dGVzdA=',
    'whsec_dGVzdA===',
    'whsec_dGV',
    'whsec_dGVzd',
    'whsec_dGVzdA-_',
  ])('%j is refused early and by signWebhook, saying what it must be', async (secret) => {
    const problem = webhookSecretProblem(secret);
    expect(problem).toMatch(/WEBHOOK_SECRET must be "whsec_" followed by base64.*openssl rand -base64 32/);
    await expect(signWebhook(secret, 'msg_1', 1, BODY)).rejects.toThrow(problem!);
  });

  it.each(['whsec_dGVzdA==', 'dGVzdA==', 'whsec_dGVzdA', `whsec_${BASE64_SECRETS[1]}`])('%j is fine', (secret) => {
    expect(webhookSecretProblem(secret)).toBeUndefined();
    // And the package takes it too, deriving the key the Worker signs with (checked above).
    expect(() => new Webhook(secret)).not.toThrow();
  });
});
