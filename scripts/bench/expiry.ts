// expiry_lateness_p99_ms: the server runs with OFFER_TIMEOUT_MS=1000 and heroes who
// acknowledge delivery but never answer, so every offer expires. Reports arrive at
// 120/min; each incident goes round after round (then escalates and retries). Lateness
// is read from the database, decided_at − expires_at of every expired offer (decided_at
// is the expiring transaction's now(), i.e. its start). Also reported: when the hero
// actually received `offer:withdrawn` (reason expired) − expiresAt, end to end.
import { pct, round } from '../lib/stats.ts';
import { around, CITY, civilianTokens, metric, note, progress, sleep, type Metric, type Opts } from './common.ts';
import type { ReportsResult } from './report.ts';
import { withScenario } from './scenario.ts';

const RATE = 120;

export async function expiry(o: Opts): Promise<Metric[]> {
  const seconds = o.quick ? 30 : 90;
  const heroes = o.quick ? 150 : 300;
  const civilians = await civilianTokens(Math.ceil((RATE / 60) * seconds));
  return withScenario('expiry', { OFFER_TIMEOUT_MS: '1000' }, { n: heroes, place: () => around(CITY, 5), behaviour: 'ignore' }, async ({ server, agent }) => {
    progress(`expiry: ${RATE} reports/min for ${seconds} s; heroes let every offer expire`);
    const started = new Date();
    const r = await agent.call<ReportsResult>('reports', { url: server.url, civilians, perMinute: RATE, seconds, center: CITY, sideKm: 5, settleMs: 3_000 });
    await sleep(500);
    // Offers still pending past their expiry count too, as late as they are by now.
    const rows = await server.sql<{ late_ms: number; open: boolean }[]>`
      select extract(epoch from (coalesce(decided_at, now()) - expires_at)) * 1000 as late_ms, decided_at is null as open
        from offers where created_at >= ${started} and (state = 'expired' or (state = 'pending' and expires_at < now()))`;
    const pending = [{ n: rows.filter((x) => x.open).length }];
    const late = rows.map((x) => Number(x.late_ms));
    const seen = await agent.call<{ offers: { offerId: string; expiresAt: number }[]; withdrawals: { offerId: string; reason: string; at: number }[] }>('offersAndWithdrawals');
    const expiresAt = new Map(seen.offers.map((x) => [x.offerId, x.expiresAt]));
    const wire = seen.withdrawals.filter((w) => w.reason === 'expired' && expiresAt.has(w.offerId)).map((w) => w.at - expiresAt.get(w.offerId)!);
    const p99 = pct(late, 0.99);
    note(`expiry: ${r.rows.length} reports, ${late.length} offers expired; DB lateness (decided_at − expires_at) p50 ${round(pct(late, 0.5), 1)} / p99 ${round(p99, 1)} / max ${round(Math.max(...late), 1)} ms; `
      + `hero received offer:withdrawn(expired) − expiresAt p50 ${round(pct(wire, 0.5), 1)} / p99 ${round(pct(wire, 0.99), 1)} ms over ${wire.length}; `
      + `${pending[0]?.n ?? 0} offers still pending past expiry at the end (included, as late as they were then).`);
    return [
      metric('expiry_lateness_p99_ms', round(p99, 1), 'ms', null, '≤ 250', p99 <= 250),
      metric('expiry_withdrawn_on_hero_p99_ms', round(pct(wire, 0.99), 1), 'ms', null, '— (end to end, for reference)', null),
    ];
  });
}
