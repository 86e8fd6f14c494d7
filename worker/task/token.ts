/**
 * A task's capabilities and the object they open. Every identifier the Worker hands out for a
 * task, its `socketaccesstoken` and its `taskid`, is `<key><mac>`: a key that names the task's
 * Durable Object, then 16 characters of an HMAC (under the Worker's signing secret) of the key
 * and the identifier's kind. Whoever holds either may read, stream, cancel and kill that one
 * task; an identifier the Worker never issued fails the MAC and is refused before any object is
 * touched, so made-up ids cost no storage and reach no Wiro. Wiro's own (sequential) ids and
 * tokens stay inside the task object.
 *
 * The key is one of two kinds, told apart by its length:
 * - 43 characters: the object's id from `newUniqueId()` (its 256 bits in base 62), for a plain
 *   Run. Cloudflare makes such an object where it is first asked for, without the worldwide
 *   check a name needs on first use ("up to a few hundred milliseconds", Durable Objects'
 *   namespace docs), so a Run does not wait for that check. Identifiers are 59 characters.
 * - 24 characters: a name (`idFromName`), for a Run with an `Idempotency-Key`, whose repeats must
 *   find the same object by deriving the same name. Identifiers are 40 characters, as every
 *   identifier was before unique ids; those still open their tasks.
 *
 * Callbacks come to `/v1/Callback/<object id>/<signature>`: the signature (HMAC of the id under
 * the same secret) makes the URL unguessable without putting the client's token in it.
 *
 * @example
 *   const task = newTaskObject(env);                      // { key, id, stub }
 *   const ids = await mintTaskIds(secret, task.key);      // { key, token, taskid }
 *   const stub = await taskObjectOf(env, secret, ids.taskid);
 */
import type { Bindings, Config } from '../env';
import { ApiError, WiroCode } from '../errors';
import { hmacBytes, hmacHex, verifyHmacHex } from '../wiro/sign';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A name's length, and the length of a 256-bit object id in base 62. */
const NAME_LENGTH = 24;
const UNIQUE_LENGTH = 43;
export const MAC_LENGTH = 16;
const SIGNED_PATTERN = /^(?:[A-Za-z0-9]{40}|[A-Za-z0-9]{59})$/;

export interface TaskIds {
  /** Names the task's Durable Object. */
  key: string;
  /** The `socketaccesstoken` clients get. */
  token: string;
  /** The `taskid` clients get. */
  taskid: string;
}

type Kind = 'token' | 'taskid';

/** Bytes to the alphabet; the slight bias of `% 62` does not matter for a MAC or a derived key. */
function encode(bytes: Uint8Array, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[(bytes[i] ?? 0) % 62];
  return text;
}

async function mac(secret: string, kind: Kind, key: string): Promise<string> {
  return encode(await hmacBytes(secret, `task ${kind}\n${key}`), MAC_LENGTH);
}

/** The token and taskid of the task whose object `key` names. */
export async function mintTaskIds(secret: string, key: string): Promise<TaskIds> {
  const [tokenMac, idMac] = await Promise.all([mac(secret, 'token', key), mac(secret, 'taskid', key)]);
  return { key, token: key + tokenMac, taskid: key + idMac };
}

/** A name derived from a message (an `Idempotency-Key` and its client), so a repeat finds it again. */
export async function derivedKey(secret: string, message: string): Promise<string> {
  return encode(await hmacBytes(secret, message), NAME_LENGTH);
}

/** A unique object id (64 hex digits) as a key: its 256 bits in base 62. */
function uniqueKeyOf(objectId: string): string {
  let value = BigInt(`0x${objectId}`);
  let key = '';
  for (let i = 0; i < UNIQUE_LENGTH; i++) {
    key = ALPHABET[Number(value % 62n)] + key;
    value /= 62n;
  }
  return key;
}

/** The object a key opens: a name, or a unique id written in base 62. */
export function taskObjectId(env: Bindings, key: string): DurableObjectId {
  if (key.length === NAME_LENGTH) return env.TASK.idFromName(key);
  let value = 0n;
  for (const character of key) value = value * 62n + BigInt(ALPHABET.indexOf(character));
  return env.TASK.idFromString(value.toString(16).padStart(64, '0'));
}

/** Length-independent comparison of two equal-length strings, so a guess learns nothing from timing. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** The object key an identifier holds, or undefined when the Worker never issued it. */
export async function objectKeyOf(secret: string, identifier: unknown): Promise<string | undefined> {
  if (typeof identifier !== 'string') return undefined;
  if (!SIGNED_PATTERN.test(identifier)) return undefined;
  const key = identifier.slice(0, -MAC_LENGTH);
  const given = identifier.slice(-MAC_LENGTH);
  const [tokenMac, idMac] = await Promise.all([mac(secret, 'token', key), mac(secret, 'taskid', key)]);
  // Both compared, always, so the answer takes the same time whichever kind was given.
  const matches = [sameText(given, tokenMac), sameText(given, idMac)];
  return matches.includes(true) ? key : undefined;
}

export const NOT_FOUND_MESSAGE = 'Task not found: this taskid or token was not issued by this Worker';

export function notFoundError(): ApiError {
  return new ApiError(404, [{ code: WiroCode.notFound, message: NOT_FOUND_MESSAGE }]);
}

/**
 * The task object that every given identifier names (a request may send both a token and an
 * id; they must agree). Anything the Worker never issued answers 404 without touching an object.
 */
export async function taskObjectOf(env: Bindings, secret: string, ...identifiers: unknown[]) {
  const given = identifiers.filter(
    (identifier) => identifier !== undefined && identifier !== null && identifier !== '',
  );
  const keys = await Promise.all(given.map((identifier) => objectKeyOf(secret, String(identifier))));
  const [key] = keys;
  if (key === undefined || keys.some((other) => other !== key)) throw notFoundError();
  return env.TASK.get(taskObjectId(env, key));
}

/** A new task's object: named by `name` (a keyed Run, whose repeats derive the name again), else a unique id. */
export function newTaskObject(env: Bindings, name?: string) {
  const id = name === undefined ? env.TASK.newUniqueId() : env.TASK.idFromName(name);
  const objectId = id.toString();
  return { key: name ?? uniqueKeyOf(objectId), id: objectId, stub: env.TASK.get(id) };
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
