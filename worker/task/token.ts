/**
 * Task tokens and the objects they open. The Worker mints its own token per task (Wiro's
 * `taskid` is sequential and guessable, and Wiro's own token stays with the Worker); whoever
 * holds it may read, stream, cancel and kill that one task. The token names the task's Durable
 * Object, so the mapping survives restarts without a table.
 *
 * Callbacks come to `/v1/Callback/<object id>/<signature>`: the signature (HMAC of the id under
 * the callback secret) makes the URL unguessable without putting the client's token in it.
 */
import type { Bindings, Config } from '../env';
import { ApiError } from '../errors';
import { hmacHex, verifyHmacHex } from '../wiro/sign';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_LENGTH = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9]{32}$/;

/** 32 characters from 62 (about 190 bits), without modulo bias. */
export function mintToken(): string {
  let token = '';
  while (token.length < TOKEN_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(48))) {
      if (byte < 248 && token.length < TOKEN_LENGTH) token += ALPHABET[byte % 62];
    }
  }
  return token;
}

/** The task object of a token; a token the Worker never issued answers 404, with no lookup. */
export function taskByToken(env: Bindings, token: unknown) {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new ApiError(404, [{ code: 1, message: 'Task not found: this token was not issued by this Worker' }]);
  }
  return env.TASK.get(env.TASK.idFromName(token));
}

export function newTaskObject(env: Bindings, token: string) {
  const id = env.TASK.idFromName(token);
  return { id: id.toString(), stub: env.TASK.get(id) };
}

export async function callbackUrl(origin: string, secret: string, objectId: string): Promise<string> {
  return `${origin}/v1/Callback/${objectId}/${await hmacHex(secret, objectId)}`;
}

/** The task object a callback URL names, if its signature holds. */
export async function taskByCallback(env: Bindings, config: Config, objectId: string, signature: string) {
  if (!/^[0-9a-f]{64}$/.test(objectId) || !(await verifyHmacHex(config.callbackSecret, objectId, signature))) {
    throw new ApiError(403, 'This callback URL is not one the Worker issued');
  }
  return env.TASK.get(env.TASK.idFromString(objectId));
}
