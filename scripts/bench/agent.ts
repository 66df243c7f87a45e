// Child process: heroes and civilians for the latency figures. It holds the hero
// sockets and sends the HTTP reports itself, so "report sent" and "offer received" are
// read from one clock. Under a burst the reports come from a second instance with no
// sockets (scenario.ts withCivilians), so thousands of requests do not delay the
// heroes' clock; `firstOffers` then gives epoch times to compare across the two. Hero behaviours:
//   resolve  accept every offer, then en_route / on_scene / resolved at once (free again)
//   ignore   acknowledge delivery only, never answer (offers expire)
//   race     collect offers; the parent's `race` command answers them all at once
//   hold     accept every offer at once and keep the assignment (the parent's `assemble`
//            command times the team filling up, then frees its members)
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { openSocket } from '../lib/wire.ts';
import { sendReport, type ReportRow, type RetryPolicy } from './civilian.ts';
import { childProgress, serve } from './ipc.ts';

interface HeroIn { id: string; token: string; lat: number; lng: number }
export type Behaviour = 'resolve' | 'ignore' | 'race' | 'hold';
interface OfferIn { offerId: string; incident: { id: string }; expiresAt: number; slot?: number }
interface Need { skill: string | null; count: number }
interface Ack { ok: boolean; reason?: string }

const sockets = new Map<string, Socket>();
let behaviour: Behaviour = 'ignore';
/** incident id → when its first offer reached any hero (performance.now()). */
const firstOffer = new Map<string, number>();
/** Every offer seen, and every withdrawal, with wall-clock arrival (for expiry lateness). */
const offers: { offerId: string; incidentId: string; expiresAt: number; at: number }[] = [];
const withdrawals: { offerId: string; reason: string; at: number }[] = [];
const raceOffers = new Map<string, { heroId: string; offerId: string; slot: number; at: number }[]>();
/** A race starts once `racers` offers are in, or none has come for this long (the batch was smaller). */
const RACE_QUIET_MS = 1_000;
/** `hold`: incident id → the members whose accept was answered ok, and when. */
const held = new Map<string, { heroId: string; at: number }[]>();
const timers: NodeJS.Timeout[] = [];
let resolved = 0;
let acceptRefused = 0;

function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const jitter = (h: { lat: number; lng: number }) => ({ lat: h.lat + (Math.random() - 0.5) * 2e-4, lng: h.lng + (Math.random() - 0.5) * 2e-4 });
const ask = (s: Socket, event: string, payload: unknown) => s.timeout(15_000).emitWithAck(event, payload).then((a: Ack) => a, () => null);

async function acceptAndResolve(s: Socket, offer: OfferIn): Promise<void> {
  const a = await ask(s, 'offer:accept', { offerId: offer.offerId });
  if (!a?.ok) { acceptRefused += 1; return; }
  await finish(s, offer.incident.id);
  resolved += 1;
}

/** En route, on scene, resolved: the hero (a team member: their own part) is free again. */
async function finish(s: Socket, incidentId: string): Promise<void> {
  for (const state of ['en_route', 'on_scene', 'resolved']) await ask(s, 'incident:progress', { incidentId, state });
}

async function freeHeld(): Promise<void> {
  const all = [...held].flatMap(([incidentId, members]) => members.map((m) => ({ incidentId, ...m })));
  held.clear();
  await Promise.all(all.map((m) => finish(sockets.get(m.heroId)!, m.incidentId)));
}

async function acceptAndHold(s: Socket, heroId: string, offer: OfferIn): Promise<void> {
  const a = await ask(s, 'offer:accept', { offerId: offer.offerId });
  const at = performance.now();
  if (!a?.ok) { acceptRefused += 1; return; }
  const list = held.get(offer.incident.id) ?? [];
  list.push({ heroId, at });
  held.set(offer.incident.id, list);
}

function connectHero(url: string, h: HeroIn, pingEveryMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = openSocket(url, { token: h.token, heroId: h.id }, { timeoutMs: 20_000 });
    sockets.set(h.id, s);
    const timer = setTimeout(() => resolve(false), 30_000);
    s.once('connect', () => { clearTimeout(timer); resolve(true); });
    s.on('connect', () => s.emit('location', jitter(h)));
    s.on('offer', (offer: OfferIn, ack?: (x: unknown) => void) => {
      const at = performance.now();
      if (typeof ack === 'function') ack(true); // the app's delivery receipt
      if (!firstOffer.has(offer.incident.id)) firstOffer.set(offer.incident.id, at);
      offers.push({ offerId: offer.offerId, incidentId: offer.incident.id, expiresAt: offer.expiresAt, at: Date.now() });
      if (behaviour === 'resolve') void acceptAndResolve(s, offer);
      else if (behaviour === 'hold') void acceptAndHold(s, h.id, offer);
      else if (behaviour === 'race') {
        const list = raceOffers.get(offer.incident.id) ?? [];
        list.push({ heroId: h.id, offerId: offer.offerId, slot: offer.slot ?? 0, at });
        raceOffers.set(offer.incident.id, list);
      }
    });
    s.on('offer:withdrawn', (p: { offerId: string; reason: string }) => withdrawals.push({ ...p, at: Date.now() }));
    // Position pings every pingEveryMs, each hero at its own phase.
    const first = setTimeout(() => {
      timers.push(setInterval(() => { if (s.connected) s.emit('location', jitter(h)); }, pingEveryMs));
    }, Math.random() * pingEveryMs);
    timers.push(first);
  });
}

/** One attempt, no retries: the race and assemble rounds need a 201 at once or fail. */
async function report(url: string, token: string, body: unknown) {
  return sendReport({ i: 0, civ: 0, severity: '', url, token, body });
}

/** `turn`: severities in turn (a quarter critical). `burst`: 10% critical, the rest high/medium/low alike. */
const MIXES = {
  turn: ['critical', 'high', 'medium', 'low'],
  burst: ['critical', 'high', 'medium', 'low', 'high', 'medium', 'low', 'high', 'medium', 'low'],
};
const KINDS = ['accident', 'fire', 'crime', 'medical'];
// This process's own event-loop delay: offers and answers are timed here, so a busy
// generator would show up as server latency; the parent reads it with `loop`.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

serve({
  /** Hero i connects to url[i mod n] when given several (the processes of a cluster). */
  async connect(a: { url: string | string[]; heroes: HeroIn[]; behaviour: Behaviour; pingEveryMs: number }) {
    behaviour = a.behaviour;
    const urls = [a.url].flat();
    let ok = 0;
    for (let i = 0; i < a.heroes.length; i += 50) {
      const batch = a.heroes.slice(i, i + 50).map((h, k) => connectHero(urls[(i + k) % urls.length]!, h, a.pingEveryMs));
      ok += (await Promise.all(batch)).filter(Boolean).length;
    }
    return { connected: ok };
  },

  /**
   * Open-loop reports at `perMinute` for `seconds` (report i to url[i mod n] when given
   * several, from civilian i mod the list's length), severities by `mix`; each report
   * is retried by `retry` when given (scripts/bench/civilian.ts), and no attempt starts
   * later than `cutAfterMs` after the last first attempt's scheduled time. Then waits `settleMs`.
   */
  async reports(a: {
    url: string | string[]; civilians: string[]; perMinute: number; seconds: number; center: { lat: number; lng: number }; sideKm: number;
    settleMs: number; mix?: keyof typeof MIXES; retry?: RetryPolicy; cutAfterMs?: number;
  }) {
    const urls = [a.url].flat();
    const severities = MIXES[a.mix ?? 'turn'];
    const total = Math.round((a.perMinute / 60) * a.seconds);
    const gap = 60_000 / a.perMinute;
    const rows: ReportRow[] = [];
    const inflight: Promise<void>[] = [];
    const started = performance.now();
    const lastStartAt = a.cutAfterMs === undefined ? undefined : started + (total - 1) * gap + a.cutAfterMs;
    for (let i = 0; i < total; i++) {
      const wait = started + i * gap - performance.now();
      if (wait >= 1) await sleep(wait);
      const severity = severities[i % severities.length]!;
      const location = { lat: a.center.lat + (Math.random() - 0.5) * a.sideKm / 111, lng: a.center.lng + (Math.random() - 0.5) * a.sideKm / 84 };
      const civ = i % a.civilians.length;
      inflight.push(sendReport({
        i, civ, severity, url: urls[i % urls.length]!, token: a.civilians[civ]!, body: { kind: KINDS[i % KINDS.length], severity, location },
        ...(a.retry ? { retry: a.retry } : {}), ...(lastStartAt === undefined ? {} : { lastStartAt }),
      }).then((r) => { rows.push(r); }));
      if (i % Math.max(1, Math.round(total / 5)) === 0 && i > 0) childProgress(`sent ${i}/${total} reports, ${rows.length} done`);
    }
    const sendS = (performance.now() - started) / 1000;
    // Retries may go on for 30 s after the last first attempt: say how far they are.
    const ticker = setInterval(() => childProgress(`${rows.length}/${total} reports done (${rows.filter((r) => r.gaveUp).length} gave up); the rest retrying`), 5_000);
    await Promise.all(inflight).finally(() => clearInterval(ticker));
    childProgress(`all ${total} reports done (first attempts over ${sendS.toFixed(1)} s, last done ${((performance.now() - started) / 1000).toFixed(1)} s in); waiting ${a.settleMs / 1000} s for offers`);
    await sleep(a.settleMs);
    for (const r of rows) {
      const at = r.id ? firstOffer.get(r.id) : undefined;
      r.offerMs = at === undefined ? null : at - r.t0;
    }
    rows.sort((x, y) => x.i - y.i);
    return { rows, sendS, resolved, acceptRefused };
  },

  /** When the first offer for each incident reached a hero, epoch ms (timeOrigin + performance.now()); null if none yet. */
  firstOffers(a: { ids: string[] }) {
    return a.ids.map((id) => {
      const at = firstOffer.get(id);
      return at === undefined ? null : performance.timeOrigin + at;
    });
  },

  /** This process's event-loop delay since the last call (ms), then starts afresh. */
  loop() {
    const ms = (ns: number) => ns / 1e6;
    const out = { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) };
    loopDelay.reset();
    return out;
  },

  /**
   * Rounds of one critical report whose offers all `racers` heroes accept at the same
   * instant. With `needs` the incident has several slots, each raced by its own offers.
   */
  async race(a: { url: string; civilians: string[]; spot: { lat: number; lng: number }; rounds: number; racers: number; needs?: Need[] }) {
    const results: { racers: number; spreadMs: number; lastAckMs: number; winners: number; winnersBySlot: Record<string, number>; reasons: Record<string, number> }[] = [];
    for (let r = 0; r < a.rounds; r++) {
      raceOffers.clear();
      const rep = await report(a.url, a.civilians[r % a.civilians.length]!, { kind: 'fire', severity: 'critical', location: a.spot, ...(a.needs ? { needs: a.needs } : {}) });
      if (rep.status !== 201 || !rep.id) throw new Error(`race report answered ${rep.status}${rep.error ? ` (${rep.error})` : ''}, not 201 (a new incident)`);
      const until = performance.now() + 5_000;
      for (;;) {
        const got = raceOffers.get(rep.id) ?? [];
        const now = performance.now();
        if (got.length >= a.racers || now >= until || (got.length > 0 && now - got[got.length - 1]!.at > RACE_QUIET_MS)) break;
        await sleep(2);
      }
      // Stragglers of the same batch. RACE_SETTLE_MS=600 (a diagnostic, not the figure)
      // races once the round's own effects (expiry and notification jobs) have settled.
      await sleep(Number(process.env.RACE_SETTLE_MS ?? 20));
      // In a random order each round: the first accept the server reads wins, and a hero
      // who won every round would soon spend their event budget (rate_limited) on the
      // progress steps that free them.
      const list = shuffled(raceOffers.get(rep.id) ?? []);
      const t0 = performance.now();
      const acks = await Promise.all(list.map((o) => ask(sockets.get(o.heroId)!, 'offer:accept', { offerId: o.offerId })
        .then((ack) => ({ ack, heroId: o.heroId, slot: o.slot, at: performance.now() }))));
      const lastAckMs = Math.max(0, ...acks.map((x) => x.at - t0));
      const reasons: Record<string, number> = {};
      for (const x of acks) { const k = x.ack ? (x.ack.ok ? 'ok' : x.ack.reason ?? '?') : 'no ack'; reasons[k] = (reasons[k] ?? 0) + 1; }
      const winners = acks.filter((x) => x.ack?.ok);
      const winnersBySlot: Record<string, number> = {};
      for (const w of winners) winnersBySlot[w.slot] = (winnersBySlot[w.slot] ?? 0) + 1;
      const spreadMs = list.length ? Math.max(...list.map((o) => o.at)) - Math.min(...list.map((o) => o.at)) : 0;
      results.push({ racers: list.length, spreadMs, lastAckMs, winners: winners.length, winnersBySlot, reasons });
      // Free the winners, and give the status changes time to reach the available set.
      await Promise.all(winners.map((w) => finish(sockets.get(w.heroId)!, rep.id!)));
      await sleep(400);
      if ((r + 1) % 10 === 0) childProgress(`race round ${r + 1}/${a.rounds}: ${list.length} racers, last ack ${lastAckMs.toFixed(1)} ms, ${winners.length} winner(s)`);
    }
    return results;
  },

  /**
   * `hold` heroes: rounds of one report each (`needs` null = one hero), at most one open
   * at a time. Report sent → the accept filling its last slot answered ok (every slot
   * filled, on the heroes' clock); then its members are freed.
   */
  async assemble(a: { url: string; civilians: string[]; spot: { lat: number; lng: number }; rounds: { needs: Need[] | null; severity: string }[]; waitMs: number }) {
    const results: { size: number; severity: string; fullMs: number | null; members: number }[] = [];
    for (let r = 0; r < a.rounds.length; r++) {
      const { needs, severity } = a.rounds[r]!;
      const size = needs ? needs.reduce((n, x) => n + x.count, 0) : 1;
      await freeHeld(); // late members of an earlier round's incident
      const rep = await report(a.url, a.civilians[r % a.civilians.length]!, { kind: 'accident', severity, location: a.spot, ...(needs ? { needs } : {}) });
      if (rep.status !== 201 || !rep.id) throw new Error(`assemble report answered ${rep.status}${rep.error ? ` (${rep.error})` : ''}, not 201 (a new incident)`);
      const until = performance.now() + a.waitMs;
      while ((held.get(rep.id)?.length ?? 0) < size && performance.now() < until) await sleep(1);
      const members = held.get(rep.id) ?? [];
      const fullMs = members.length >= size ? Math.max(...members.map((m) => m.at)) - rep.t0 : null;
      results.push({ size, severity, fullMs, members: members.length });
      await freeHeld();
      await sleep(400);
      if ((r + 1) % 20 === 0) childProgress(`assemble round ${r + 1}/${a.rounds.length}: ${size} hero(es), ${fullMs === null ? 'not full' : `full in ${fullMs.toFixed(1)} ms`}`);
    }
    return results;
  },

  counts() {
    return { resolved, acceptRefused };
  },

  offersAndWithdrawals() {
    return { offers, withdrawals };
  },

  close() {
    timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
    for (const s of sockets.values()) s.close();
    sockets.clear();
    return null;
  },
});
