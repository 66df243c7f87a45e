// Requests Node's HTTP parser refuses before any route sees them (headers over 16 KiB,
// a malformed request line or header): answered with a problem document like every
// other refusal, instead of Node's bare 400/431 with no body. Fastify's
// `clientErrorHandler`; no hook runs for these, so the headers every answer carries
// (server/http/web.server.ts) are written here by hand.
import type { Socket } from 'node:net';

const REFUSALS: Record<string, { status: number; title: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, title: 'Request Header Fields Too Large', detail: 'request headers over 16 KiB' },
};
const MALFORMED = { status: 400, title: 'Bad Request', detail: 'malformed HTTP request' };

export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // A reset or timed-out connection has nobody left to answer.
  if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
  const { status, title, detail } = REFUSALS[err.code ?? ''] ?? MALFORMED;
  const code = status === 431 ? 'payload_too_large' : 'invalid';
  const body = JSON.stringify({ type: `/problems/${code}`, title, status, detail, code });
  socket.end(`HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
    + `x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\nconnection: close\r\n\r\n${body}`);
}
