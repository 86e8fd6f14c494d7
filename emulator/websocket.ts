/**
 * A minimal RFC 6455 WebSocket server side for the Wiro emulator: the opening handshake over
 * Node's `server.on('upgrade')`, masked client frames in (text, continuation, close, ping, pong;
 * 7-, 16- and 64-bit lengths), unmasked server text and close frames out. No extensions, no
 * subprotocols, no binary messages. Node built-ins only.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clearTimeout, setTimeout } from 'node:timers';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** Largest message (after reassembly) a client may send. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** base64(sha1(key + GUID)): the Sec-WebSocket-Accept answer for a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** An unmasked (server) frame, FIN set. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let head: Buffer;
  if (length < 126) {
    head = Buffer.alloc(2);
    head[1] = length;
  } else if (length < 0x10000) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  head[0] = 0x80 | opcode;
  return Buffer.concat([head, payload]);
}

/** The body of a close frame: the code, then the reason (cut to fit the 125-byte control frame limit). */
export function closePayload(code: number, reason = ''): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 123) text = text.subarray(0, 123);
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  return body;
}

class ProtocolError extends Error {
  code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Reads one client frame from the front of `buf`; null when it is not all there yet. */
function decodeClientFrame(buf: Buffer): { frame: Frame; size: number } | null {
  if (buf.length < 2) return null;
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  if ((b0 & 0x70) !== 0) throw new ProtocolError(1002, 'Reserved bits set (no extension was negotiated)');
  const fin = (b0 & 0x80) !== 0;
  const opcode = b0 & 0x0f;
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let pos = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    pos = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE_BYTES)) throw new ProtocolError(1009, 'Message too big');
    length = Number(big);
    pos = 10;
  }
  if (!masked) throw new ProtocolError(1002, 'Client frames must be masked');
  if (opcode >= 0x8 && (!fin || length > 125)) throw new ProtocolError(1002, 'Bad control frame');
  if (length > MAX_MESSAGE_BYTES) throw new ProtocolError(1009, 'Message too big');
  if (buf.length < pos + 4 + length) return null;
  const mask = buf.subarray(pos, pos + 4);
  pos += 4;
  const payload = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) payload[i] = (buf[pos + i] ?? 0) ^ (mask[i & 3] ?? 0);
  return { frame: { fin, opcode, payload }, size: pos + length };
}

/** Why an upgrade request is not a WebSocket opening handshake we can take, or null. */
export function handshakeProblem(req: IncomingMessage): { status: number; message: string } | null {
  if (req.method !== 'GET') return { status: 400, message: 'A WebSocket opening handshake must be a GET' };
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (!upgrade.split(',').some((token) => token.trim() === 'websocket')) {
    return { status: 400, message: 'Expected Upgrade: websocket' };
  }
  const version = String(req.headers['sec-websocket-version'] ?? '');
  if (version !== '13') return { status: 426, message: 'Only Sec-WebSocket-Version 13 is supported' };
  const key = String(req.headers['sec-websocket-key'] ?? '').trim();
  if (Buffer.from(key, 'base64').length !== 16) {
    return { status: 400, message: 'Sec-WebSocket-Key must be 16 bytes, base64' };
  }
  return null;
}

/** Answers an upgrade request with a plain HTTP response (JSON body) and closes the connection. */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown, extra: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const payload = Buffer.from(JSON.stringify(body));
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(payload.length),
    connection: 'close',
    ...extra,
  };
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), payload]), () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

export interface WebSocketHandlers {
  /** A whole text message arrived. */
  onText(text: string): void;
  /** The TCP connection is gone (after a close handshake, a drop, or an error). */
  onClosed(): void;
  /** We sent a close frame with this code. */
  onCloseSent?(code: number): void;
}

/** How long a close handshake may take before the connection is simply destroyed. */
const CLOSE_GRACE_MS = 1000;

/** One accepted WebSocket, server side. */
export class WebSocketConnection {
  readonly socket: Duplex;
  /** 'open'; 'closing' once we sent a close frame (or are dropping); 'closed' when TCP is gone. */
  state: 'open' | 'closing' | 'closed' = 'open';
  /** The code of the close frame we sent, null while none (or when dropped without one). */
  closeCode: number | null = null;
  #buffer: Buffer = Buffer.alloc(0);
  #fragments: Buffer[] | null = null;
  #fragmentBytes = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #handlers: WebSocketHandlers;
  #decoder = new TextDecoder('utf-8', { fatal: true });
  #head: Buffer;

  /** Writes the 101 answer; frames are read once `start()` is called. */
  constructor(req: IncomingMessage, socket: Duplex, head: Buffer, handlers: WebSocketHandlers) {
    this.socket = socket;
    this.#handlers = handlers;
    this.#head = head;
    if (socket instanceof Socket) socket.setNoDelay(true);
    const key = String(req.headers['sec-websocket-key'] ?? '').trim();
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
        '\r\n',
    );
    socket.pause();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {
      // 'close' follows.
    });
    // The client ended TCP without a close handshake: end our side too.
    socket.on('end', () => this.#end(250));
    socket.on('close', () => {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      const wasClosed = this.state === 'closed';
      this.state = 'closed';
      if (!wasClosed) this.#handlers.onClosed();
    });
  }

  /** Starts reading frames (those that came with the handshake first). */
  start(): void {
    const head = this.#head;
    this.#head = Buffer.alloc(0);
    if (head.length > 0) this.#onData(head);
    this.socket.resume();
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /** Sends a text message; false when the socket is no longer open. */
  sendText(text: string): boolean {
    if (this.state !== 'open' || !this.socket.writable) return false;
    this.socket.write(encodeFrame(OPCODE_TEXT, Buffer.from(text, 'utf8')));
    return true;
  }

  /** Starts the close handshake: our close frame now, TCP closed once the client answers (or after a grace). */
  close(code: number, reason = ''): void {
    if (this.state !== 'open') return;
    this.#sendClose(code, reason);
    this.#arm(CLOSE_GRACE_MS);
  }

  /** Sends a close frame and ends TCP at once, without waiting for the client's answer. */
  shutdown(code: number, reason = ''): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.#sendClose(code, reason);
    this.#end(250);
  }

  /** Ends the TCP connection with no close frame (after what was already written is flushed). */
  drop(): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.#end(250);
  }

  #sendClose(code: number, reason: string): void {
    this.state = 'closing';
    this.closeCode = code;
    if (!this.socket.destroyed) this.socket.write(encodeFrame(OPCODE_CLOSE, closePayload(code, reason)));
    this.#handlers.onCloseSent?.(code);
  }

  #end(graceMs: number): void {
    if (this.state === 'open') this.state = 'closing';
    if (this.socket.destroyed) return;
    if (!this.socket.writableEnded) this.socket.end(() => this.socket.destroy());
    this.#arm(graceMs);
  }

  #arm(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.socket.destroy(), ms);
    this.#timer.unref();
  }

  #fail(code: number, reason: string): void {
    this.#buffer = Buffer.alloc(0);
    if (this.state === 'open') this.#sendClose(code, reason);
    this.#end(250);
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        const decoded = decodeClientFrame(this.#buffer);
        if (!decoded) return;
        this.#buffer = this.#buffer.subarray(decoded.size);
        this.#onFrame(decoded.frame);
        if (this.socket.destroyed || this.socket.writableEnded) return;
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.#fail(err.code, err.message);
      else this.#fail(1011, 'Internal error');
    }
  }

  #onFrame({ fin, opcode, payload }: Frame): void {
    switch (opcode) {
      case OPCODE_PING:
        if (this.state === 'open') this.socket.write(encodeFrame(OPCODE_PONG, payload));
        return;
      case OPCODE_PONG:
        return;
      case OPCODE_CLOSE: {
        if (payload.length === 1) throw new ProtocolError(1002, 'Bad close frame');
        if (this.state === 'open') {
          // The client closes first: answer with its code, then end TCP.
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
          this.#sendClose(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, '');
        }
        this.#end(CLOSE_GRACE_MS);
        return;
      }
      case OPCODE_BINARY:
        throw new ProtocolError(1003, 'Only text messages are supported');
      case OPCODE_TEXT:
      case OPCODE_CONTINUATION: {
        if (opcode === OPCODE_TEXT && this.#fragments) throw new ProtocolError(1002, 'Expected a continuation');
        if (opcode === OPCODE_CONTINUATION && !this.#fragments)
          throw new ProtocolError(1002, 'Unexpected continuation');
        if (opcode === OPCODE_TEXT && fin) {
          this.#deliver(payload);
          return;
        }
        this.#fragments ??= [];
        this.#fragments.push(payload);
        this.#fragmentBytes += payload.length;
        if (this.#fragmentBytes > MAX_MESSAGE_BYTES) throw new ProtocolError(1009, 'Message too big');
        if (fin) {
          const whole = Buffer.concat(this.#fragments);
          this.#fragments = null;
          this.#fragmentBytes = 0;
          this.#deliver(whole);
        }
        return;
      }
      default:
        throw new ProtocolError(1002, `Unknown opcode ${opcode}`);
    }
  }

  #deliver(payload: Buffer): void {
    let text: string;
    try {
      text = this.#decoder.decode(payload);
    } catch {
      throw new ProtocolError(1007, 'Text message is not valid UTF-8');
    }
    if (this.state === 'open') this.#handlers.onText(text);
  }
}
