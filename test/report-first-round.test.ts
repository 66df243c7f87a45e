// README "A lone report carries its first round" (issue 14, the steady path): a lone
// report that makes a new single-hero incident, with heroes already found near it, has
// its first offers made in its own transaction (services/report.first-round.ts); a
// batch of reports keeps its rounds apart. Read from Postgres: the rows a transaction
// writes carry its id (xmin). If that round fails with an error of its own, the report
// is written again without it and the dispatch round takes over. The failure here is
// a real one: a trigger in this suite's schema refuses the first offer made to one hero.
import * as assert from 'uvu/assert';
import type { Sql } from '../server/db.ts';
import { connect, eventually } from './helpers/clients.ts';
import { holdCell } from './helpers/cell-lock.ts';
import { civilianOrder } from './helpers/push-order.ts';
import { uid } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, cancelByDispatcher, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

// One batch lane, so a report stuck on its dedupe cell makes the next reports wait and go in one batch.
const test = serverSuite('report with its first round', { DISPATCH_RETRY_MS: 200, REPORTS_BATCH_LANES: 1, REPORTS_PER_MINUTE: 100_000 });

/** The transaction ids of an incident's audit events and of its offers. */
async function writers(sql: Sql, incidentId: string) {
  const events = await sql<{ type: string; tx: string }[]>`select type, xmin::text as tx from incident_events where incident_id = ${incidentId} order by seq`;
  const offers = await sql<{ tx: string }[]>`select xmin::text as tx from offers where incident_id = ${incidentId}`;
  return { events: events.map((e) => [e.type, e.tx] as const), offers: offers.map((o) => o.tx) };
}

test('a lone new report\'s first offers commit in the report\'s own transaction, and every change is still pushed in order', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const civilian = await connect(server, 'civilian', civToken);
  const hero = await heroOnline(server, center, 0.6);
  await matchable(server, [hero]);
  const { status, incident } = await report(server, civToken, { kind: 'fire', severity: 'critical', location: center });
  assert.is(status, 201);
  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  assert.is(offer.incident.state, 'dispatching');

  const { events, offers } = await writers(server.app.sql, incident.id);
  assert.equal(events.map(([type]) => type), ['REPORTED', 'ROUND']);
  assert.is(events[1]![1], events[0]![1], 'the round was written by the report\'s transaction');
  assert.equal(offers, [events[0]![1]], 'so was the offer');
  // Two versions from one transaction: each is still pushed, in order, with its own time.
  await civilian.next('incident:status', (s) => s.incidentId === incident.id && s.state === 'dispatching');
  assert.equal(civilianOrder(civilian, incident.id), ['reported', 'dispatching']);
  await cancelByDispatcher(server, incident.id);
  closeAll(civilian, hero);
});

test('if the first round fails in the report\'s transaction, the report is written without it and the dispatch round offers', async ({ server }) => {
  const center = area();
  const civToken = await server.token('civilian', uid('civ-'));
  const hero = await heroOnline(server, center, 0.6);
  await matchable(server, [hero]);
  const name = `first_round_probe_${uid('').replace(/[^a-z0-9]/gi, '')}`.toLowerCase();
  const sql = server.app.sql;
  // A sequence is not rolled back: the first offer to this hero is refused, the next is not.
  await sql.unsafe(`create sequence ${name}`);
  await sql.unsafe(`create function ${name}() returns trigger language plpgsql as $$
    begin
      if new.hero_id = '${hero.id}' and nextval('${name}') = 1 then raise exception 'probe: the first offer to this hero is refused'; end if;
      return new;
    end $$`);
  await sql.unsafe(`create trigger ${name} before insert on offers for each row execute function ${name}()`);
  try {
    const { status, incident } = await report(server, civToken, { kind: 'medical', severity: 'high', location: center });
    assert.is(status, 201, 'the report was accepted all the same');
    const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
    assert.is(offer.incident.id, incident.id);
    const [seq] = await sql<{ n: string }[]>`select last_value::text as n from ${sql(name)}`;
    assert.is(seq?.n, '2', 'the refused offer was tried in the report\'s transaction, the made one after it');
    const { events, offers } = await writers(sql, incident.id);
    assert.equal(events.map(([type]) => type), ['REPORTED', 'ROUND']);
    assert.is.not(events[1]![1], events[0]![1], 'the round ran in a transaction of its own');
    assert.equal(offers, [events[1]![1]]);
    await cancelByDispatcher(server, incident.id);
  } finally {
    await sql.unsafe(`drop trigger ${name} on offers`);
    await sql.unsafe(`drop function ${name}()`);
    await sql.unsafe(`drop sequence ${name}`);
    closeAll(hero);
  }
});

test('reports written in one batch keep their rounds apart: none runs in the batch\'s transaction', async ({ server }) => {
  const spot = area();
  const heroes = [await heroOnline(server, spot, 0.5), await heroOnline(server, spot, 0.7)];
  await matchable(server, heroes);
  const waiting = async () => (await server.app.metrics.reportsWaiting.get()).values[0]?.value ?? 0;
  // The only lane is held by a report stuck on its cell's lock; two reports by the heroes queue
  // behind it (not critical: a critical report has a lane of its own).
  const elsewhere = area();
  const lock = await holdCell(server, 'fire', elsewhere);
  const sent: Promise<{ status: number; incident: { id: string } }>[] = [];
  try {
    const stuck = report(server, await server.token('civilian', uid('civ-')), { kind: 'fire', severity: 'high', location: elsewhere });
    await lock.someoneWaits();
    for (const kind of ['medical', 'crime']) {
      const before = await waiting();
      sent.push(report(server, await server.token('civilian', uid('civ-')), { kind, severity: 'low', location: spot }));
      await eventually(`the ${kind} report waiting for the batch`, async () => (await waiting()) === before + 1);
    }
    await lock.release();
    assert.is((await stuck).status, 201);
  } finally {
    await lock.release();
  }
  const made = await Promise.all(sent);
  assert.equal(made.map((r) => r.status), [201, 201]);
  const trails = await Promise.all(made.map(async ({ incident }) => {
    await eventually('the incident offered', async () => (await writers(server.app.sql, incident.id)).offers.length > 0);
    return writers(server.app.sql, incident.id);
  }));
  assert.is(trails[0]!.events[0]![1], trails[1]!.events[0]![1], 'both reports were written in one batch');
  for (const { events, offers } of trails) {
    assert.equal(events.map(([type]) => type).slice(0, 2), ['REPORTED', 'ROUND']);
    assert.is.not(events[1]![1], events[0]![1], 'the round ran in a transaction of its own');
    assert.ok(offers.every((tx) => tx !== events[0]![1]), 'no offer was made by the batch\'s transaction');
  }
  for (const { incident } of made) await cancelByDispatcher(server, incident.id);
  closeAll(...heroes);
});

test.run();
