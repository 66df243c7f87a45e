// README "Cluster" guarantees, checked on three real `npm start` processes
// (scripts/cluster.ts) sharing one Postgres schema and one Redis prefix, started once:
// - offer acknowledgements come back through the Redis adapter;
// - one sweep per interval for the whole cluster;
// - each outbox row is carried out once;
// - a dead process's BullMQ job is picked up elsewhere (last: it kills a member).
import * as assert from 'uvu/assert';
import type { Cluster } from '../scripts/cluster.ts';
import type { OfferPush } from '../shared/types.ts';
import { connect, eventually, http, sleep } from './helpers/clients.ts';
import { clusterSuite } from './helpers/cluster-suite.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

const SWEEP_MS = 500;
/** Rounds that found nobody retry after this, as a delayed BullMQ job… */
const RETRY_MS = 2_500;
/** …and the sweeper steps in only this long after that retry was due. */
const DEADLINE_MS = 3_000;

const test = clusterSuite('guarantees-cluster', {
  schema: uid('t_gcl_'), prefix: uid('tgc'), sweepMs: SWEEP_MS,
  env: {
    LOG_LEVEL: 'info', METRICS_CACHE_MS: '0',
    DISPATCH_RETRY_MS: String(RETRY_MS), DISPATCH_DEADLINE_MS: String(DEADLINE_MS),
    // Relay passes on every member this often: were a row's claim not exclusive, the
    // other members' passes would keep racing the member carrying it.
    OUTBOX_POLL_MS: '50',
    REPORTS_PER_MINUTE: '100000', DEDUPE_RADIUS_M: '0', // separate emergencies at one spot
  },
});

/** The member's own `dispatch_outbox_relayed_total` for this topic and mode (METRICS_CACHE_MS is 0 here). */
async function relayed(member: TestServer, topic: string, mode: 'carry' | 'pass'): Promise<number> {
  const res = await http(member, 'GET', '/metrics');
  assert.is(res.status, 200);
  const line = String(res.body).split('\n').find((l) => l.startsWith('dispatch_outbox_relayed_total{')
    && l.includes(`topic="${topic}"`) && l.includes(`mode="${mode}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** push:offer rows this member carried out, either way: the offers it sent. */
const offersSent = async (member: TestServer) => (await relayed(member, 'push:offer', 'carry')) + (await relayed(member, 'push:offer', 'pass'));

const logLines = (c: Cluster, msg: string) =>
  c.members.flatMap((mb) => mb.output.join('').split('\n')).filter((l) => l.includes(`"msg":"${msg}"`)).length;

test('offer acks travel through the Redis adapter: a hero on member 0 acks an offer another member sent, and it is marked seen', async ({ m, stores }) => {
  const civ = await stores.token('civilian', uid('civ-'));
  const finish = async (hero: OnlineHero, offerId: string, incidentId: string) => {
    assert.equal(await hero.client.ask('offer:accept', { offerId }), { ok: true, incidentId });
    for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
      assert.equal(await hero.client.ask('incident:progress', { incidentId, state }), { ok: true, state });
    }
    closeAll(hero);
  };
  // The offer goes out from the member that carries out the round's rows: the one the
  // report was posted to (member 1), unless a relay pass or a BullMQ worker elsewhere took
  // the work first, as may happen under load. The ack must cross processes, so an offer
  // member 0 happened to send itself is finished and the scenario run again.
  for (let attempt = 1; ; attempt++) {
    const center = area();
    const hero = await heroOnline(m[0]!, center, 0.4);
    // The app's ack, held until the test has seen the offer unacknowledged.
    const acks: (() => void)[] = [];
    hero.client.socket.on('offer', (_offer: unknown, ack?: () => void) => { if (ack) acks.push(ack); });
    await matchable(m[0]!, [hero]);
    const before = await Promise.all(m.map(offersSent));
    const { status, incident } = await report(m[1]!, civ, { kind: 'medical', severity: 'low', location: center, description: `ack across members ${attempt}` });
    assert.is(status, 201, JSON.stringify(incident));
    const offer = await hero.client.next<OfferPush>('offer', (o) => o.incident.id === incident.id, 10_000);
    // The counter moves once the carrying transaction deleted the row, just after the emit.
    const sent = await eventually('the offer\'s row counted as carried out', async () => {
      const delta = (await Promise.all(m.map(offersSent))).map((n, i) => n - before[i]!);
      return delta.some((d) => d > 0) ? delta : null;
    }, 5_000);
    assert.is(sent.reduce((a, b) => a + b, 0), 1, `the offer was sent ${JSON.stringify(sent)} times per member`);
    const sender = sent.indexOf(1);

    const seenAt = async () => (await stores.sql<{ seen_at: Date | null }[]>`select seen_at from offers where id = ${offer.offerId}`)[0]?.seen_at;
    assert.is(await seenAt(), null, 'marked seen before the app acknowledged it');
    assert.is(acks.length, 1, 'the offer came with an ack callback');
    const ackedAt = Date.now();
    acks[0]!();
    if (sender === 0 && attempt < 3) { await finish(hero, offer.offerId, incident.id); continue; }
    assert.ok(sender !== 0, 'member 0 sent the offer itself three times running: no ack had to cross processes');
    // The sender hears the ack (from member 0, through Redis) and records it.
    const seen = await eventually('offers.seen_at set by the ack', seenAt, 5_000);
    assert.ok(seen.getTime() >= ackedAt - 50, 'seen_at predates the ack');
    await finish(hero, offer.offerId, incident.id);
    console.log(`guarantees-cluster: offer sent by member ${sender} (attempt ${attempt}), acked by a hero on member 0, seen_at ${seen.getTime() - ackedAt} ms after the ack`);
    return;
  }
});

test('one sweep per interval for the whole cluster: three members, about window/SWEEP_INTERVAL_MS sweeps, not three times that', async ({ cluster, stores }) => {
  // Every completed BullMQ job is an entry in the queue's event stream, whichever member
  // ran it; a sweep a member ran on its own (after re-creating the scheduler) is logged.
  const events = `${stores.prefix}:bull:sweep:events`;
  const [last] = await stores.redis.xrevrange(events, '+', '-', 'COUNT', 1);
  const from = last?.[0] ?? '0-0';
  const ownSweepsBefore = logLines(cluster, 'sweep scheduler (re)created; sweeping now');
  const windowMs = 5_000;
  const startedAt = Date.now();
  await sleep(windowMs);
  const elapsed = Date.now() - startedAt;
  const entries = await stores.redis.xrange(events, `(${from}`, '+');
  const sweeps = new Set(entries.filter(([, f]) => f[1] === 'completed').map(([, f]) => f[f.indexOf('jobId') + 1]));
  const expected = elapsed / SWEEP_MS;
  const own = logLines(cluster, 'sweep scheduler (re)created; sweeping now') - ownSweepsBefore;
  // A loaded machine may merge or delay a tick; three schedulers would make ~3× as many.
  assert.ok(sweeps.size >= expected * 0.5, `only ${sweeps.size} sweeps in ${elapsed} ms at SWEEP_INTERVAL_MS ${SWEEP_MS} (about ${expected.toFixed(0)} expected)`);
  assert.ok(sweeps.size <= expected * 1.5 + 1, `${sweeps.size} sweeps in ${elapsed} ms at SWEEP_INTERVAL_MS ${SWEEP_MS}: more than one per interval (about ${expected.toFixed(0)}; one per member would be ${(3 * expected).toFixed(0)})`);
  assert.is(own, 0, 'a member swept on its own besides the scheduler');
  console.log(`guarantees-cluster: ${sweeps.size} sweeps in ${elapsed} ms across 3 members (SWEEP_INTERVAL_MS ${SWEEP_MS}: ~${expected.toFixed(1)})`);
});

test('each outbox row is carried out once: a burst over three members, every push reaches its watchers exactly once', async ({ m, stores }) => {
  const n = 45;
  const civId = uid('civ-');
  const civ = await stores.token('civilian', civId);
  const disp = await stores.token('dispatcher', uid('d-'));
  const dispatcher = await connect(m[0]!, 'dispatch', disp);
  await dispatcher.next('snapshot');
  const civilian = await connect(m[1]!, 'civilian', civ);
  // Nobody near: each incident goes through rounds that find no one, then is cancelled.
  const far = area();
  const created = await Promise.all(Array.from({ length: n }, (_, i) =>
    report(m[i % 3]!, civ, { kind: 'other', severity: 'low', location: { lat: far.lat, lng: far.lng + i * 1e-3 }, description: `burst ${i}` })));
  for (const r of created) assert.is(r.status, 201, JSON.stringify(r.incident));
  const ids = created.map((r) => r.incident.id);
  await eventually('every burst incident through its first round', async () =>
    (await stores.sql<{ n: number }[]>`select count(*)::int as n from incidents where id in ${stores.sql(ids)} and version >= 2`)[0]?.n === n, 10_000);
  const cancels = await Promise.all(ids.map((id, i) => http(m[i % 3]!, 'POST', `/v1/incidents/${id}/cancel`, { token: disp, body: { reason: 'burst over' } })));
  for (const c of cancels) assert.is(c.status, 200, JSON.stringify(c.body));
  await eventually('the burst\'s outbox rows all carried out', async () =>
    (await stores.sql`select 1 from outbox where incident_id in ${stores.sql(ids)} limit 1`).length === 0, 10_000);
  const versions = new Map((await stores.sql<{ id: string; version: number }[]>`select id, version from incidents where id in ${stores.sql(ids)}`)
    .map((r) => [r.id, r.version]));
  await eventually('the last push of every burst incident', () =>
    ids.every((id) => dispatcher.all('incident').some((i) => i.id === id && i.version === versions.get(id))
      && civilian.all('incident:status').some((s) => s.incidentId === id && s.state === 'cancelled')), 5_000);
  // A second carrying of a row would come from another member's relay pass, within a poll.
  await sleep(500);

  let rows = 0;
  for (const id of ids) {
    const v = versions.get(id)!;
    rows += v;
    const seen = dispatcher.all<{ id: string; version: number }>('incident').filter((i) => i.id === id).map((i) => i.version).sort((a, b) => a - b);
    assert.equal(seen, Array.from({ length: v }, (_, k) => k + 1), `incident ${id}: the dispatcher got versions [${seen}] of v1..v${v}: each push once`);
    const statuses = civilian.all<{ incidentId: string }>('incident:status').filter((s) => s.incidentId === id).length;
    assert.is(statuses, v, `incident ${id}: the civilian got ${statuses} statuses for ${v} committed versions`);
  }
  console.log(`guarantees-cluster: ${n} incidents reported and cancelled over 3 members: ${rows} incident pushes, each reached the dispatcher and the civilian once`);
  closeAll(dispatcher, civilian);
});

test('a dead process\'s BullMQ job is picked up elsewhere: a retry round member 2 queued runs on a survivor after member 2 is SIGKILLed', async ({ cluster, m, stores }) => {
  const dispatcher = await connect(m[0]!, 'dispatch', await stores.token('dispatcher', uid('d-')));
  await dispatcher.next('snapshot');
  // Nobody near: member 2 runs the first round, finds no one, and queues the retry.
  const civ = await stores.token('civilian', uid('civ-'));
  const { status, incident } = await report(m[2]!, civ, { kind: 'other', severity: 'high', location: area(), description: 'orphaned retry' });
  assert.is(status, 201, JSON.stringify(incident));
  const job = await eventually('the retry round queued as a delayed job', async () =>
    (await stores.redis.keys(`${stores.prefix}:bull:dispatch:dispatch-${incident.id}-*`))[0], 5_000);
  const jobId = job.slice(`${stores.prefix}:bull:dispatch:`.length);
  const victim = cluster.members[2]!;
  victim.child.kill('SIGKILL');
  await Promise.race([victim.exited, sleep(10_000)]);
  assert.is(victim.child.signalCode, 'SIGKILL', 'member 2 died of our SIGKILL');
  assert.ok(await stores.redis.zscore(`${stores.prefix}:bull:dispatch:delayed`, jobId) !== null, 'the retry was still waiting when member 2 died');
  const [{ deadline_at: deadline } = { deadline_at: null }] = await stores.sql<{ deadline_at: Date | null }[]>`
    select deadline_at from incidents where id = ${incident.id}`;
  assert.ok(deadline, 'the incident has a deadline');

  // Round 2 runs on member 0 or 1, from the job: before the deadline, past which only the sweeper would have acted.
  const round2 = await eventually('the second round', async () =>
    (await stores.sql<{ at: Date }[]>`select at from incident_events where incident_id = ${incident.id} and type = 'ROUND' order by seq offset 1 limit 1`)[0],
  RETRY_MS + DEADLINE_MS + 5_000);
  assert.ok(round2.at.getTime() < deadline!.getTime(),
    `round 2 at ${round2.at.toISOString()}, not before the deadline ${deadline!.toISOString()}: the sweeper re-created it, the job did not run`);
  assert.is(await stores.redis.exists(job), 0, 'the job still exists: it did not complete');
  await sleep(300); // any incident_stuck would have been carried out by now
  assert.not.ok(dispatcher.all('alert').some((a) => a.type === 'incident_stuck' && a.incidentId === incident.id), 'the sweeper had to step in');
  const cancel = await http(m[0]!, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: await stores.token('dispatcher', uid('d-')), body: { reason: 'done' } });
  assert.is(cancel.status, 200);
  console.log(`guarantees-cluster: job ${jobId} queued by member 2, which was SIGKILLed; round 2 ran on a survivor ${deadline!.getTime() - round2.at.getTime()} ms before the sweeper's deadline`);
  closeAll(dispatcher);
});

test.run();
