// The 5-slot team race over three real processes (scripts/cluster.ts) on one Postgres
// schema and one Redis prefix: 40 heroes, spread over the members, accept at once.
// Every slot is filled exactly once, no hero holds two slots, every loser hears `taken`.
import * as assert from 'uvu/assert';
import type { OfferPush } from '../shared/types.ts';
import { eventually, type Client } from './helpers/clients.ts';
import { clusterSuite } from './helpers/cluster-suite.ts';
import { uid } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

type Ack = { ok: boolean; incidentId?: string; reason?: string };
const SWEEP_MS = 300;

const offerOf = (h: { client: Client }, incidentId: string, ms = 10_000) =>
  h.client.next<OfferPush>('offer', (o) => o.incident.id === incidentId, ms);

const test = clusterSuite('teams cluster', {
  schema: uid('t_tcl_'), prefix: uid('ttc'), sweepMs: SWEEP_MS,
  env: { LOG_LEVEL: 'warn', OFFER_BATCH_CRITICAL: '8', DISPATCH_RETRY_MS: '200', REPORTS_PER_MINUTE: '100000', DEDUPE_RADIUS_M: '0' },
});

test('a 5-slot team, 40 heroes on three members accepting at once: each slot filled once, nobody twice, losers `taken` (x3)', async ({ m, stores }) => {
  for (let k = 0; k < 3; k++) {
    const center = area();
    // 8 without skills nearest, 12 medics, 12 rescuers, 8 with both: 8 distinct offers fit every slot.
    const skillsOf = (i: number) => (i < 8 ? [] : i < 20 ? ['medic'] : i < 32 ? ['rescue'] : ['medic', 'rescue']);
    const heroes = await Promise.all(Array.from({ length: 40 }, (_, i) => heroOnline(m[i % 3]!, center, 0.1 + i * 0.03, { skills: skillsOf(i) })));
    await matchable(m[0]!, heroes, 10_000);
    const civ = await stores.token('civilian', uid('civ-'));
    const { status, incident } = await report(m[k % 3]!, civ, {
      kind: 'disaster', severity: 'critical', location: center, needs: [{ skill: 'medic', count: 2 }, { skill: 'rescue', count: 2 }, { skill: null, count: 1 }],
    });
    assert.is(status, 201, JSON.stringify(incident));
    const rows = await eventually('offers for every slot', async () => {
      const r = await stores.sql<{ id: string; hero_id: string; slot: number }[]>`select id, hero_id, slot from offers where incident_id = ${incident.id}`;
      return r.length === 40 ? r : null;
    }, 10_000);
    assert.is(new Set(rows.map((o) => o.hero_id)).size, 40, 'no hero offered two slots');
    const byHero = new Map(heroes.map((h) => [h.id, h]));
    const offers = await Promise.all(rows.map((o) => offerOf(byHero.get(o.hero_id)!, incident.id)));
    assert.equal(offers.map((o) => o.slot), rows.map((o) => o.slot));

    const acks = await Promise.all(rows.map((o) => byHero.get(o.hero_id)!.client.ask<Ack>('offer:accept', { offerId: o.id })));
    const winners = rows.filter((_, i) => acks[i]!.ok);
    assert.equal(winners.map((w) => w.slot).sort(), [0, 1, 2, 3, 4], `incident ${k}: ${JSON.stringify(acks)}`);
    for (const [i, a] of acks.entries()) {
      assert.equal(a, a.ok ? { ok: true, incidentId: incident.id } : { ok: false, reason: 'taken' }, `offer ${i}, hero on member ${heroes.indexOf(byHero.get(rows[i]!.hero_id)!) % 3}`);
    }
    const active = await stores.sql<{ hero_id: string; slot: number }[]>`
      select hero_id, slot from assignments where incident_id = ${incident.id} and state = 'active' order by slot`;
    assert.equal(active.map((a) => [a.slot, a.hero_id]), [...winners].sort((a, b) => a.slot - b.slot).map((w) => [w.slot, w.hero_id]));
    const [row] = await stores.sql<{ state: string }[]>`select state from incidents where id = ${incident.id}`;
    assert.is(row?.state, 'assigned');
    closeAll(...heroes);
  }
});

test.run();
