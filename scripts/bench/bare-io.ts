// Child process: the bare component under the ingest and memory figures. A plain
// Socket.IO server (no auth, no adapter, no schema checks) whose `/hero` namespace takes
// the same `location` messages and writes them with one pipelined GEOADD per ping,
// flushed every 5 ms with one flush in flight at a time (the server's own cadence).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { serve } from './ipc.ts';

let io: Server | undefined;
let redis: Redis | undefined;
let key = '';
let buffer: [string, number, number][] = [];
let written = 0;
let timer: NodeJS.Timeout | undefined;
let flushing = false;

function schedule(): void {
  if (!timer && !flushing) timer = setTimeout(flush, 5);
}

async function flush(): Promise<void> {
  timer = undefined;
  if (buffer.length === 0) return;
  const batch = buffer;
  buffer = [];
  flushing = true;
  try {
    const pipe = redis!.pipeline();
    for (const [id, lng, lat] of batch) pipe.geoadd(key, lng, lat, id);
    await pipe.exec();
    written += batch.length;
  } finally {
    flushing = false;
    if (buffer.length) schedule();
  }
}

serve({
  async listen(a: { redisUrl: string; key: string }) {
    redis = new Redis(a.redisUrl);
    key = a.key;
    const http = createServer();
    io = new Server(http, { pingInterval: 10_000, pingTimeout: 5_000 });
    io.of('/hero').on('connection', (socket) => {
      const heroId = String((socket.handshake.auth as { heroId?: unknown }).heroId ?? socket.id);
      socket.on('location', (p: { lat?: unknown; lng?: unknown }) => {
        if (typeof p?.lat !== 'number' || typeof p?.lng !== 'number') return;
        buffer.push([heroId, p.lng, p.lat]);
        schedule();
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    return { port: (http.address() as AddressInfo).port };
  },
  count() {
    return { written };
  },
  async close() {
    await new Promise<void>((r) => (io ? io.close(() => r()) : r()));
    redis?.disconnect();
    return null;
  },
});
