/**
 * Who a request comes from, for limits: the client's IP (Cloudflare's `cf-connecting-ip`) and
 * the page's origin, together. The same visitor on two sites is two clients; two visitors of
 * one site are two clients.
 */
import { NO_ORIGIN } from './budget';

export interface Client {
  ip: string;
  origin: string;
  /** Names the client's limiter object. */
  key: string;
}

export function clientOf(request: Request): Client {
  const ip = request.headers.get('cf-connecting-ip') ?? 'unknown';
  const origin = request.headers.get('origin') ?? NO_ORIGIN;
  return { ip, origin, key: `${ip} ${origin}` };
}
