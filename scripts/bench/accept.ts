// accept_race_p99_ms: the server runs with OFFER_BATCH_CRITICAL=50 and 50 heroes stand
// next to each other. Each round one critical report offers to all 50; once their
// offers have arrived, all 50 send `offer:accept` in the same tick and we time the last
// ack. Exactly one must say ok. Side by side: one guarded UPDATE (`... where id = $1 and
// version = $2`) raced by 50 concurrent postgres.js connections, timed the same way.
import { createSchema, dropSchemas, pg, uid } from '../lib/lifecycle.ts';
import { pct, round } from '../lib/stats.ts';
import { around, CITY, civilianTokens, metric, note, onCleanup, progress, sleep, type Metric, type Opts } from './common.ts';
import { withScenario } from './scenario.ts';

const RACERS = 50;

export interface Round { racers: number; spreadMs: number; lastAckMs: number; winners: number; winnersBySlot: Record<string, number>; reasons: Record<string, number> }

/**
 * The bare race: `racers` postgres.js connections each run one guarded UPDATE at once;
 * with `slots` > 1 racer i guards row (round, i mod slots), one winner per row.
 */
export async function bareRace(rounds: number, racers = RACERS, slots = 1): Promise<{ ms: number[]; bad: number }> {
  const schema = uid('bench_race_', 4);
  const drop = onCleanup(() => dropSchemas([schema]));
  await createSchema(schema, 'create table race (id integer primary key, version integer not null, winner integer)');
  const sql = pg(schema, racers);
  try {
    // Open every connection first, so the race does not time connecting.
    await Promise.all(Array.from({ length: racers }, () => sql`select pg_sleep(0.05)`));
    const ms: number[] = [];
    let bad = 0;
    for (let r = 0; r < rounds; r++) {
      const rows = Array.from({ length: slots }, (_, k) => ({ id: r * slots + k, version: 0 }));
      await sql`insert into race ${sql(rows, 'id', 'version')}`;
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: racers }, (_, i) =>
        sql`update race set version = version + 1, winner = ${i} where id = ${r * slots + (i % slots)} and version = ${0}`));
      ms.push(performance.now() - t0);
      const won = new Map<number, number>();
      results.forEach((x, i) => { if (x.count === 1) won.set(i % slots, (won.get(i % slots) ?? 0) + 1); });
      if (won.size !== slots || [...won.values()].some((n) => n !== 1)) bad += 1;
      await sleep(5);
    }
    return { ms, bad };
  } finally {
    await sql.end({ timeout: 5 });
    await drop();
  }
}

export async function acceptRace(o: Opts): Promise<Metric[]> {
  const rounds = o.quick ? 30 : 100;
  const spot = CITY;
  const civilians = await civilianTokens(rounds);
  const res = await withScenario('accept', { OFFER_BATCH_CRITICAL: String(RACERS) },
    { n: RACERS, place: () => around(spot, 0.5), behaviour: 'race' },
    async ({ server, agent }) => {
      progress(`accept: ${rounds} rounds of ${RACERS} simultaneous accepts`);
      return agent.call<Round[]>('race', { url: server.url, civilians, spot, rounds, racers: RACERS });
    });
  const bare = await bareRace(o.quick ? 100 : 300);

  const ms = res.map((r) => r.lastAckMs);
  const p99 = pct(ms, 0.99);
  const b99 = pct(bare.ms, 0.99);
  const notOne = res.filter((r) => r.winners !== 1).length;
  const racers = res.map((r) => r.racers);
  const reasons: Record<string, number> = {};
  for (const r of res) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  note(`accept race: ${res.length} rounds, ${Math.min(...racers)}–${Math.max(...racers)} racers per round (offers in before the batch went quiet, 5 s at most), answers ${JSON.stringify(reasons)}; `
    + `last ack p50 ${round(pct(ms, 0.5), 1)} / p99 ${round(p99, 1)} ms. Bare guarded UPDATE × ${RACERS}: ${bare.ms.length} rounds, p50 ${round(pct(bare.ms, 0.5), 2)} / p99 ${round(b99, 2)} ms, `
    + `${bare.bad} rounds without exactly one winner.`);
  return [
    metric('accept_race_p99_ms', round(p99, 1), 'ms', round(b99, 2), '≤ 25', p99 <= 25),
    metric('accept_race_rounds_not_one_winner', notOne, 'rounds', bare.bad, '0 (exactly one winner)', notOne === 0),
  ];
}
