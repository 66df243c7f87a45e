// A small HTTP router: path patterns with `:params`, JSON bodies capped at 64 KiB,
// and every error answered as application/problem+json. No handler can crash the
// process: whatever escapes becomes a 500 with the cause logged. Nothing a client
// sends may cause that 500: malformed paths and ids are refused before any handler
// runs, and a value Postgres refuses as data (SQLSTATE class 22) is answered 400.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import { storable } from '../../shared/schemas.ts';
import { isDataException } from '../data-exception.ts';
import { isTransient } from '../db.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface HttpRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The peer address (a proxy's when behind one: see TRUST_PROXY). */
  remoteAddress?: string;
  /** Reads and parses the JSON body (once). */
  json(): Promise<unknown>;
}

export interface HttpResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body (metrics); sent as is. */
  text?: string;
  /** Raw bytes (static files); sent as is with the given headers. */
  raw?: Buffer;
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;

interface Route { method: string; parts: string[]; handler: Handler }

/**
 * Sent with every response the router sees, API and pages alike: no content sniffing
 * (a JSON answer is never run as a script), and no URL (which may hold an id) leaks in
 * a Referer header.
 */
const EVERY_RESPONSE = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const;

/** Longest path parameter we look at; anything longer is not one of our ids or names. */
const MAX_PARAM = 200;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a decoded path parameter cannot be an id or file name, or null when it may be one. */
function malformedParam(value: string): string | null {
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_PARAM) return `is longer than ${MAX_PARAM} characters`;
  if (CONTROL.test(value)) return 'contains control characters';
  if (!storable(value)) return 'contains malformed unicode';
  return null;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function problem(res: ServerResponse, status: number, code: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ type: `/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code, ...extra });
  // A 401 names the scheme that would succeed (RFC 9110 §11.6.1).
  const challenge: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  res.writeHead(status, { 'content-type': 'application/problem+json', ...challenge, ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    // Past the cap, keep reading but drop the bytes, so the client gets its 413
    // instead of a reset connection.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_SOCKET_PAYLOAD_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_SOCKET_PAYLOAD_BYTES) reject(new AppError('payload_too_large', `body over ${MAX_SOCKET_PAYLOAD_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

export class Router {
  private routes: Route[] = [];

  constructor(private readonly log: Logger) {}

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | 'wrong-method' | null {
    const parts = path.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.parts.every((p, i) => {
        if (p.startsWith(':')) { params[p.slice(1)] = decodeURIComponent(parts[i]!); return true; }
        return p === parts[i];
      });
      if (!ok) continue;
      if (route.method === method) return { route, params };
      pathMatched = true;
    }
    return pathMatched ? 'wrong-method' : null;
  }

  /** Returns false when no route claims the path (so Socket.IO or pages may). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    for (const [name, value] of Object.entries(EVERY_RESPONSE)) res.setHeader(name, value);
    let url: URL;
    let found;
    try {
      // `GET //` and the like are not URLs at all; `%E0` is not UTF-8.
      url = new URL(req.url ?? '/', 'http://local');
      found = this.match(req.method ?? 'GET', url.pathname);
    } catch {
      problem(res, 400, 'invalid', 'malformed path');
      return true;
    }
    if (found === null) return false;
    if (found === 'wrong-method') { problem(res, 405, 'method_not_allowed', `${req.method} is not allowed here`); return true; }
    const errors = Object.entries(found.params).flatMap(([name, value]) => {
      const why = malformedParam(value);
      return why ? [{ path: name, message: why }] : [];
    });
    if (errors.length) {
      problem(res, 400, 'invalid', 'the path holds a malformed id', { errors });
      return true;
    }
    let body: Promise<unknown> | undefined;
    const request: HttpRequest = {
      method: req.method ?? 'GET', path: url.pathname, params: found.params, query: url.searchParams, headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
      json: () => (body ??= readBody(req).then((text) => {
        if (text.trim() === '') return undefined;
        if (!/json/i.test(req.headers['content-type'] ?? 'application/json')) {
          throw new AppError('invalid', 'send a JSON body (content-type: application/json)');
        }
        try { return JSON.parse(text) as unknown; } catch { throw new AppError('invalid', 'body is not valid JSON'); }
      })),
    };
    try {
      const out = await found.route.handler(request);
      if (out.raw !== undefined) {
        res.writeHead(out.status, out.headers ?? {});
        res.end(out.raw);
      } else if (out.text !== undefined) {
        res.writeHead(out.status, out.headers ?? { 'content-type': 'text/plain' });
        res.end(out.text);
      } else {
        res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
        res.end(out.body === undefined ? '' : JSON.stringify(out.body));
      }
    } catch (err) {
      if (isAppError(err)) {
        const headers: Record<string, string> = err.retryAfterS !== undefined ? { 'retry-after': String(err.retryAfterS) } : {};
        if (err.status >= 500) this.log.error({ err, path: url.pathname }, 'request failed');
        problem(res, err.status, err.code, err.message, err.errors ? { errors: err.errors } : {}, headers);
      } else if (isTransient(err)) {
        this.log.warn({ err, path: url.pathname }, 'database connection dropped');
        problem(res, 503, 'unavailable', 'the database connection dropped; retry', {}, { 'retry-after': '1' });
      } else if (isDataException(err)) {
        // Input the schemas let through but Postgres cannot take: the client's fault,
        // worth a warning (a schema may need tightening), never a 500.
        this.log.warn({ err, path: url.pathname }, 'request refused by the database as invalid data');
        problem(res, 400, 'invalid', 'the request holds a value that cannot be stored');
      } else {
        this.log.error({ err, path: url.pathname }, 'request failed');
        problem(res, 500, 'internal', 'internal error');
      }
    }
    return true;
  }
}
