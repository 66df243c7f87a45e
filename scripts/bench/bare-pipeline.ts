// Child process: the bare pipeline under report → offer. A plain HTTP + Socket.IO
// server that does exactly the essential work and nothing else: POST /v1/incidents
// runs one postgres.js insert transaction and answers 201, then one ioredis GEOSEARCH
// (3 km, 20 nearest) and one Socket.IO emit of `offer` to the nearest hero's socket.
// Heroes' `location` pings are GEOADDed as they come (the hero set the search reads).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { serve } from './ipc.ts';

let io: Server | undefined;
let redis: Redis | undefined;
let sql: ReturnType<typeof postgres> | undefined;

async function readJson(req: IncomingMessage): Promise<{ kind: string; severity: string; location: { lat: number; lng: number } }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

serve({
  async listen(a: { databaseUrl: string; schema: string; redisUrl: string; geoKey: string }) {
    sql = postgres(a.databaseUrl, { max: 10, onnotice: () => {}, connection: { search_path: a.schema } });
    redis = new Redis(a.redisUrl);
    const db = sql;
    const r = redis;
    const http = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/v1/incidents') { res.writeHead(404).end(); return; }
      (async () => {
        const body = await readJson(req);
        const id = randomUUID();
        await db.begin(async (tx) => {
          await tx`insert into incidents (id, kind, severity, lat, lng, reported_by)
                   values (${id}, ${body.kind}, ${body.severity}, ${body.location.lat}, ${body.location.lng}, ${String(req.headers.authorization ?? '').slice(-16)})`;
        });
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
        const found = (await r.call('GEOSEARCH', a.geoKey, 'FROMLONLAT', body.location.lng, body.location.lat, 'BYRADIUS', 3, 'km', 'ASC', 'COUNT', 20, 'WITHDIST')) as [string, string][];
        const nearest = found[0];
        if (nearest) {
          io!.of('/hero').to(nearest[0]).emit('offer', {
            offerId: randomUUID(), incident: { id, kind: body.kind, severity: body.severity, location: body.location },
            distanceKm: Number(nearest[1]), expiresAt: Date.now() + 15_000,
          });
        }
      })().catch((err: Error) => { if (!res.headersSent) res.writeHead(500).end(err.message); });
    });
    io = new Server(http, { pingInterval: 10_000, pingTimeout: 5_000 });
    io.of('/hero').on('connection', (socket) => {
      const heroId = String((socket.handshake.auth as { heroId?: unknown }).heroId ?? socket.id);
      void socket.join(heroId);
      socket.on('location', (p: { lat?: unknown; lng?: unknown }) => {
        if (typeof p?.lat === 'number' && typeof p?.lng === 'number') void r.geoadd(a.geoKey, p.lng, p.lat, heroId);
      });
    });
    await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
    return { port: (http.address() as AddressInfo).port };
  },
  async close() {
    await new Promise<void>((done) => (io ? io.close(() => done()) : done()));
    redis?.disconnect();
    await sql?.end({ timeout: 5 });
    return null;
  },
});
