// A small HTTP router: path patterns with `:params`, JSON bodies capped at 64 KiB,
// and every error answered as application/problem+json. No handler can crash the
// process: whatever escapes becomes a 500 with the cause logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_SOCKET_PAYLOAD_BYTES } from '../../shared/domain.ts';
import { isTransient } from '../db.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface HttpRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
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

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function problem(res: ServerResponse, status: number, code: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ type: `/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code, ...extra });
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
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
    const url = new URL(req.url ?? '/', 'http://local');
    let found;
    try {
      found = this.match(req.method ?? 'GET', url.pathname);
    } catch {
      problem(res, 400, 'invalid', 'malformed path');
      return true;
    }
    if (found === null) return false;
    if (found === 'wrong-method') { problem(res, 405, 'method_not_allowed', `${req.method} is not allowed here`); return true; }
    let body: Promise<unknown> | undefined;
    const request: HttpRequest = {
      method: req.method ?? 'GET', path: url.pathname, params: found.params, query: url.searchParams, headers: req.headers,
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
      } else {
        this.log.error({ err, path: url.pathname }, 'request failed');
        problem(res, 500, 'internal', 'internal error');
      }
    }
    return true;
  }
}
