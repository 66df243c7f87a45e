// Requests a well-behaved client would not send: fetch with full control of headers
// and body, and raw bytes over TCP for what fetch cannot send at all.
import { createConnection } from 'node:net';
import { parseBody as bodyOf } from '../../scripts/lib/wire.ts';
import type { HttpAnswer } from './clients.ts';
import type { TestServer } from './server.ts';

/** fetch with full control of headers and body; undefined when fetch itself refuses to send it. */
export async function rawRequest(server: TestServer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer | undefined> {
  let res: Response;
  try {
    res = await fetch(server.url + path, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    // A header value fetch refuses to send (control characters): not the server's business.
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === 'UND_ERR_INVALID_ARG' || (e instanceof TypeError && !/fetch failed/.test(e.message))) return undefined;
    throw e;
  }
  return { status: res.status, body: bodyOf(await res.text()), headers: res.headers };
}

/** Sends raw bytes over TCP and parses the answer (fetch cannot send a malformed request). */
export function rawHttp(server: TestServer, bytes: string): Promise<HttpAnswer> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no answer within 5 s')); }, 5_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Headers(lines.flatMap((l) => { const i = l.indexOf(':'); return i > 0 ? [[l.slice(0, i).trim(), l.slice(i + 1).trim()] as [string, string]] : []; }));
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), body: bodyOf(body), headers });
    });
    socket.end(bytes);
  });
}
