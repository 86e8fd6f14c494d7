/**
 * The upstream client on its own, against both kinds of Wiro project: one with a secret (every
 * call signed) and an "API key only" one (x-api-key alone).
 */
import { describe, expect, inject, it } from 'vitest';
import { ApiError } from '../../worker/errors';
import { WiroClient } from '../../worker/wiro/client';
import { EMULATOR_KEY, EMULATOR_SECRET } from './constants';
import { validRun } from './helpers';

const SLUG = 'wiro/text-to-image-flux-lora-fast';

function client(base: string, apiSecret: string | undefined) {
  return new WiroClient({ apiBase: `${base}/v1`, apiKey: EMULATOR_KEY, apiSecret, timeoutMs: 2000 });
}

async function lastCall(base: string) {
  const state = (await (await fetch(`${base}/__emulator/state`)).json()) as {
    calls: Array<{ route: string; nonce: string | null; status: number }>;
  };
  return state.calls.at(-1);
}

describe('an "API key only" Wiro project', () => {
  it('accepts the key alone: no nonce, no signature', async () => {
    const base = inject('keyOnlyEmulatorUrl');
    const wiro = client(base, undefined);
    const answer = await wiro.run(SLUG, { ...validRun, callbackUrl: '' });
    expect(answer.taskid).toMatch(/^\d+$/);
    expect(await wiro.detail(answer.socketaccesstoken)).toMatchObject({ status: 'task_queue' });
    expect(await lastCall(base)).toMatchObject({ route: 'Detail', status: 200, nonce: null });
  });

  it('is what a signature project refuses: Wiro’s 401 passes through', async () => {
    const base = inject('emulatorUrl');
    const error = await client(base, undefined)
      .run(SLUG, validRun)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).errors[0]?.message).toMatch(/authorization/i);
  });

  it('signs every call of a signature project', async () => {
    const base = inject('emulatorUrl');
    const answer = await client(base, EMULATOR_SECRET).run(SLUG, validRun);
    expect(answer.result).toBe(true);
    expect((await lastCall(base))?.nonce).toMatch(/^\d{13,}$/);
  });
});
