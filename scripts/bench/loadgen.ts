// Child process: holds a share of the hero sockets for the ingest and memory figures
// and sends location pings at the rate the parent asks for, round-robin over its
// sockets (so one hero's consecutive pings are as far apart as possible). Every socket
// also pings once per `keepaliveMs`, like an on-duty hero app between moves.
import type { Socket } from 'socket.io-client';
import { openSocket } from '../lib/wire.ts';
import { childProgress, serve } from './ipc.ts';

interface HeroIn { id: string; token: string; lat: number; lng: number }

const sockets: Socket[] = [];
const homes: { lat: number; lng: number }[] = [];
let emitted = 0;
let connectErrors = 0;
let disconnects = 0;
let rate = 0; // pings per second over all of this process's sockets
let rateSince = 0;
let rateSent = 0;
let rr = 0;
let keepRr = 0;
let ticker: NodeJS.Timeout | undefined;
let keeper: NodeJS.Timeout | undefined;

const jitter = (h: { lat: number; lng: number }) => ({ lat: h.lat + (Math.random() - 0.5) * 1e-3, lng: h.lng + (Math.random() - 0.5) * 1e-3 });

function ping(i: number): void {
  const s = sockets[i]!;
  if (!s.connected) return;
  s.emit('location', jitter(homes[i]!));
  emitted += 1;
}

function connectOne(url: string, h: HeroIn): Promise<boolean> {
  return new Promise((resolve) => {
    const s = openSocket(url, { token: h.token, heroId: h.id }, { timeoutMs: 20_000 });
    const index = sockets.length;
    sockets.push(s);
    homes.push({ lat: h.lat, lng: h.lng });
    const timer = setTimeout(() => resolve(false), 30_000);
    let first = true;
    s.on('connect', () => {
      ping(index);
      if (first) { first = false; clearTimeout(timer); resolve(true); }
    });
    s.on('connect_error', () => { connectErrors += 1; });
    s.on('disconnect', () => { disconnects += 1; });
    s.on('offer', (_offer: unknown, ack?: (x: unknown) => void) => { if (typeof ack === 'function') ack(true); });
  });
}

function tick(): void {
  if (rate <= 0 || sockets.length === 0) return;
  const due = Math.floor((rate * (performance.now() - rateSince)) / 1000) - rateSent;
  // After a stall (this process starved of CPU) catch up by at most 100 ms worth.
  const n = Math.min(due, Math.ceil(rate / 10));
  for (let k = 0; k < n; k++) {
    ping(rr);
    rr = (rr + 1) % sockets.length;
  }
  rateSent += due; // what could not be sent in time is dropped, not queued
}

serve({
  async connect(a: { url: string; heroes: HeroIn[]; concurrency: number; keepaliveMs: number }) {
    let ok = 0;
    for (let i = 0; i < a.heroes.length; i += a.concurrency) {
      const wave = await Promise.all(a.heroes.slice(i, i + a.concurrency).map((h) => connectOne(a.url, h)));
      ok += wave.filter(Boolean).length;
      if ((i / a.concurrency) % 10 === 9) childProgress(`connected ${ok}/${a.heroes.length}`);
    }
    ticker ??= setInterval(tick, 5);
    // Keepalive pings: every socket once per keepaliveMs, spread over 100 ms slots.
    keeper ??= setInterval(() => {
      const per = Math.ceil(sockets.length / (a.keepaliveMs / 100));
      for (let k = 0; k < per && sockets.length; k++) { ping(keepRr); keepRr = (keepRr + 1) % sockets.length; }
    }, 100);
    return { connected: ok, errors: connectErrors };
  },
  rate(a: { perSecond: number }) {
    rate = a.perSecond;
    rateSince = performance.now();
    rateSent = 0;
    return null;
  },
  count() {
    return { emitted, connected: sockets.filter((s) => s.connected).length, disconnects, connectErrors };
  },
  close() {
    clearInterval(ticker);
    clearInterval(keeper);
    rate = 0;
    for (const s of sockets) s.close();
    sockets.length = 0;
    return null;
  },
});
