// README guarantees about the safety net under the fast paths ("Every deadline lives
// in Postgres, and a sweeper watches them"; "A report and its dispatch share one fate:
// the outbox"), each checked against a real server:
// - an assigned incident without progress for PROGRESS_DEADLINE_MS raises `incident_stuck`;
// - emptying Redis never releases anyone, it only delays detection by one HERO_LOST_AFTER_MS;
// - a crash delays an effect by at most one OUTBOX_POLL_MS.
// The suite runs on its own redis-server child (test/helpers/redis-server.ts), so its
// FLUSHALL never touches the Redis at REDIS_URL; the crash is a real SIGKILL of a real
// `npm start` child sharing the suite's schema and key prefix.
import * as assert from 'uvu/assert';
import type { Alert, LatLng } from '../shared/types.ts';
import { connect, eventually, sleep, type Client } from './helpers/clients.ts';
import { faultSuite } from './helpers/fault-suite.ts';
import { CARRIER_LOCKS } from '../server/store/outbox.store.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { spawnServer } from './helpers/spawned-server.ts';
import { area, east, matchable, report } from './helpers/world.ts';

const SETTINGS = {
  DEDUPE_RADIUS_M: 0, // separate emergencies at one spot
  SWEEP_INTERVAL_MS: 200, HERO_LOST_AFTER_MS: 2_000, PROGRESS_DEADLINE_MS: 2_000,
  // A poll long enough to tell "within one poll" from "within a few".
  OUTBOX_POLL_MS: 1_000,
};
/**
 * Slack on top of each timing bound for a loaded 2-core test machine (timer lateness, a
 * sweep or relay pass's own transactions). It stays well under what a missing mechanism
 * costs: without the sweeper or the relay poll the wait never ends.
 */
const MARGIN_MS = 1_500;
/**
 * Slack on "within one OUTBOX_POLL_MS": the pass's own claim, emit and delete, and timer
 * lateness on a loaded machine. Passes three polls apart, or none, exceed it.
 */
const POLL_SLACK_MS = 1_000;
/** Date.now() here against the server's Date.now() and Postgres's now(): one machine, one clock. */
const CLOCK_SLACK_MS = 50;

const { test, track, keepPinging, pinging } = faultSuite('guarantees-sweeps', SETTINGS, 3 * SETTINGS.OUTBOX_POLL_MS + 5_000);


async function dispatcherOn(server: TestServer, disp: string): Promise<Client> {
  const d = track(await connect(server, 'dispatch', disp));
  await d.next('snapshot');
  return d;
}

async function newIncident(server: TestServer, at: LatLng): Promise<string> {
  const { status, incident } = await report(server, await server.token('civilian', uid('civ-')), { kind: 'accident', severity: 'low', location: at });
  assert.is(status, 201, JSON.stringify(incident));
  return incident.id;
}

const offerFor = (h: { client: Client }, incidentId: string, ms = 5_000) =>
  h.client.next<{ offerId: string }>('offer', (o: any) => o.incident.id === incidentId, ms);

async function assigned(h: { client: Client }, incidentId: string): Promise<void> {
  const offer = await offerFor(h, incidentId);
  assert.equal(await h.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId });
}

async function progress(h: { client: Client }, incidentId: string, ...states: ('en_route' | 'on_scene' | 'resolved')[]): Promise<void> {
  for (const state of states) assert.equal(await h.client.ask('incident:progress', { incidentId, state }), { ok: true, state });
}

const assignment = async (server: TestServer, incidentId: string, heroId: string) =>
  (await server.app.sql<{ state: string; reason: string | null; ended_at: Date | null }[]>`
    select state, reason, ended_at from assignments where incident_id = ${incidentId} and hero_id = ${heroId}`)[0];

/** When `client` received the first `name` event matching `match`. */
const receivedAt = (client: Client, name: string, match: (p: any) => boolean) =>
  client.events.find((e) => e.name === name && match(e.payload))!.at;


test('incident_stuck after PROGRESS_DEADLINE_MS: an assigned incident without progress is raised to dispatchers, and progress restarts the clock', async ({ server, disp }) => {
  const { PROGRESS_DEADLINE_MS: progressMs, SWEEP_INTERVAL_MS: sweepMs } = server.app.config;
  const dispatcher = await dispatcherOn(server, disp);
  const center = area();
  const hero = await pinging(server, center, 0.3); // pinging throughout: never "lost", only slow
  await matchable(server, [hero]);
  const id = await newIncident(server, center);
  await assigned(hero, id);
  const isStuck = (a: Alert) => a.type === 'incident_stuck' && a.incidentId === id;

  // Half the deadline later the hero moves it on: the deadline restarts from there.
  await sleep(progressMs / 2);
  const progressSentAt = Date.now();
  await progress(hero, id, 'en_route');
  const progressedAt = Date.now();

  const alert = await dispatcher.next<Alert>('alert', isStuck, progressMs + 2 * sweepMs + MARGIN_MS + 2_000);
  const sinceProgress = alert.at - progressSentAt;
  assert.ok(sinceProgress >= progressMs - CLOCK_SLACK_MS,
    `incident_stuck ${sinceProgress} ms after the last progress: raised before PROGRESS_DEADLINE_MS (${progressMs} ms) without progress`);
  // The sweeper runs every interval: the alert comes with the first sweep past the deadline.
  assert.ok(alert.at - progressedAt <= progressMs + 2 * sweepMs + MARGIN_MS,
    `incident_stuck only ${alert.at - progressedAt} ms after the last progress: no sweep raised it within two intervals of PROGRESS_DEADLINE_MS`);
  assert.match(alert.detail, /en_route without progress/);
  assert.is(dispatcher.all<Alert>('alert').filter(isStuck).length, 1, 'one alert for one stuck deadline');
  // Still the hero's: stuck is an alarm for humans, not a release.
  assert.is((await assignment(server, id, hero.id))?.state, 'active');
  await progress(hero, id, 'on_scene', 'resolved');
  console.log(`guarantees-sweeps: incident_stuck ${sinceProgress} ms after the last progress (PROGRESS_DEADLINE_MS ${progressMs}, sweep ${sweepMs})`);
});

test('emptying Redis never releases anyone: a silent hero is detected one HERO_LOST_AFTER_MS after the flush, a hero who pings again is kept', async ({ server, disp, redis }) => {
  const { HERO_LOST_AFTER_MS: lostMs, SWEEP_INTERVAL_MS: sweepMs } = server.app.config;
  const dispatcher = await dispatcherOn(server, disp);
  const [ca, cb] = [area(), area()];
  const silent = await pinging(server, ca, 0.3);
  const live = await pinging(server, cb, 0.3);
  await matchable(server, [silent, live]);
  const [ia, ib] = await Promise.all([newIncident(server, ca), newIncident(server, cb)]);
  await Promise.all([assigned(silent, ia), assigned(live, ib)]);
  // Assigned for longer than HERO_LOST_AFTER_MS: once Redis has forgotten their pings,
  // the assignment's own age no longer protects them; only "silence starts when the
  // sweeper first notices" does.
  await sleep(lostMs + 300);

  // Both apps go quiet; half a HERO_LOST_AFTER_MS later Redis is emptied.
  silent.stop();
  live.stop();
  await sleep(lostMs / 2);
  for (const [id, h] of [[ia, silent], [ib, live]] as const) assert.is((await assignment(server, id, h.id))?.state, 'active', 'released before HERO_LOST_AFTER_MS of silence');
  assert.is(await redis.call('FLUSHALL'), 'OK');
  const flushedAt = Date.now();
  // The live hero's app pings again a moment later (its real silence stays under the limit).
  await sleep(lostMs / 4);
  live.client.socket.emit('location', east(cb, 0.3));
  keepPinging(live, east(cb, 0.3));

  const released = await eventually('the silent hero released', async () => {
    const a = await assignment(server, ia, silent.id);
    return a?.state === 'released' ? a : null;
  }, lostMs + 10 * sweepMs + 5_000);
  assert.is(released.reason, 'hero_unreachable');
  const afterFlush = released.ended_at!.getTime() - flushedAt;
  assert.ok(afterFlush >= lostMs - CLOCK_SLACK_MS,
    `released ${afterFlush} ms after the flush: the empty Redis counted as silence (HERO_LOST_AFTER_MS ${lostMs})`);
  // One HERO_LOST_AFTER_MS from the flush, plus the sweeps that re-create the scheduler and notice.
  assert.ok(afterFlush <= lostMs + 3 * sweepMs + MARGIN_MS,
    `released only ${afterFlush} ms after the flush: detection delayed by more than one HERO_LOST_AFTER_MS (${lostMs}) and a few sweeps`);
  await dispatcher.next('alert', (a) => a.type === 'hero_unreachable' && a.heroId === silent.id, 3_000);

  // The hero who pinged again is still on the job, well past the point where an empty
  // Redis read as silence would have released them.
  await sleep(Math.max(0, flushedAt + lostMs + 3 * sweepMs - Date.now()));
  assert.is((await assignment(server, ib, live.id))?.state, 'active', 'a hero who kept working was released because Redis was emptied');
  assert.not.ok(dispatcher.all('alert').some((a) => a.type === 'hero_unreachable' && a.heroId === live.id), 'hero_unreachable for a hero who kept pinging');
  await progress(live, ib, 'en_route', 'on_scene', 'resolved');
  console.log(`guarantees-sweeps: after FLUSHALL the silent hero was released ${afterFlush} ms later (HERO_LOST_AFTER_MS ${lostMs}; silent ${afterFlush + lostMs / 2} ms in all); the pinging hero kept`);
});

test('a crash delays an effect by at most one poll: committed outbox rows nobody carried out go out with the next relay pass', async ({ server, disp }) => {
  const pollMs = server.app.config.OUTBOX_POLL_MS;
  const dispatcher = await dispatcherOn(server, disp);
  // What a process that died right after COMMIT leaves behind: rows in the outbox that no
  // process will carry out as its own. Written straight into this suite's schema, as the
  // dead process's transaction did. The first row finds when the survivor's passes run;
  // each next one is committed a set fraction of a poll after a pass, the first of them
  // just after one: the longest wait a row can have.
  const delays: number[] = [];
  const orphan = async () => {
    const tag = uid('orphaned alert ');
    await server.app.sql`insert into outbox (topic, incident_id, payload)
      values ('alert', null, ${server.app.sql.json({ type: 'location_stale', at: Date.now(), detail: tag })})`;
    const committedAt = Date.now();
    await dispatcher.next('alert', (a) => a.detail === tag, pollMs + POLL_SLACK_MS + 3_000);
    return receivedAt(dispatcher, 'alert', (a) => a.detail === tag) - committedAt;
  };
  await orphan();
  for (const phase of [0.05, 0.3, 0.55, 0.8]) {
    await sleep(phase * pollMs);
    delays.push(await orphan());
  }
  const worst = Math.max(...delays);
  assert.ok(worst <= pollMs + POLL_SLACK_MS, `an orphaned row went out ${worst} ms after its commit (${delays.join(', ')} ms): more than one OUTBOX_POLL_MS (${pollMs}) + ${POLL_SLACK_MS} ms slack`);
  assert.is((await server.app.sql`select 1 from outbox`).length, 0, 'rows carried out are deleted');
  console.log(`guarantees-sweeps: orphaned outbox rows went out ${delays.join(', ')} ms after commit (OUTBOX_POLL_MS ${pollMs})`);
});

test('a crash delays an effect by at most one poll: a process SIGKILLed right after an accept commits, the survivor pushes it', async ({ server, disp, redis }) => {
  const pollMs = server.app.config.OUTBOX_POLL_MS;
  // A second process of the same deployment (schema, key prefix, Redis), which kills
  // itself right after an accept commits: before its carry could claim the rows.
  const doomed = spawnServer({
    DB_SCHEMA: server.schema, REDIS_PREFIX: server.prefix, REDIS_URL: redis.url, FAULT_INJECTION: 'kill-after-accept-commit',
    ...Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, String(v)])),
  });
  try {
    const there = { ...server, url: await doomed.url } as TestServer;
    const dispatcher = await dispatcherOn(server, disp);
    const center = area();
    const hero = await pinging(there, center, 0.3);
    await matchable(server, [hero]);
    const id = await newIncident(there, center); // the doomed process runs the round and sends the offer
    const offer = await offerFor(hero, id);
    hero.client.socket.emit('offer:accept', { offerId: offer.offerId }, () => {}); // no ack will come: it dies first
    const died = await Promise.race([doomed.exit, sleep(10_000).then(() => null)]);
    assert.ok(died, `the doomed process did not die after the accept: ${doomed.tail()}`);
    assert.is(died.signal, 'SIGKILL');
    const [row] = await server.app.sql<{ state: string }[]>`select state from incidents where id = ${id}`;
    assert.is(row?.state, 'assigned', 'the accept committed before the process died');
    const left = (await server.app.sql`select 1 from outbox where incident_id = ${id}`).length;

    // Its effects (the screens' `assigned`) were committed and nobody carried them out:
    // the surviving process's relay pass does, within one poll.
    const isAssigned = (i: { id: string; state: string }) => i.id === id && i.state === 'assigned';
    await dispatcher.next('incident', isAssigned, pollMs + POLL_SLACK_MS + 3_000);
    const delay = receivedAt(dispatcher, 'incident', isAssigned) - died.at;
    assert.ok(delay <= pollMs + POLL_SLACK_MS, `the accept's push reached the dispatcher ${delay} ms after the crash: more than one OUTBOX_POLL_MS (${pollMs}) + ${POLL_SLACK_MS} ms slack`);
    console.log(`guarantees-sweeps: after a SIGKILL right past an accept's commit (${left} rows left in the outbox), the survivor pushed it ${delay} ms later (OUTBOX_POLL_MS ${pollMs})`);
  } finally {
    await doomed.kill();
  }
});

test('rows a live process carries out itself are left to it; once its carrier lock is gone, or OUTBOX_CARRIER_MS passed, the next pass carries them', async ({ server, disp }) => {
  const pollMs = server.app.config.OUTBOX_POLL_MS;
  const dispatcher = await dispatcherOn(server, disp);
  // Another process of the deployment, as far as the outbox can tell: a session holding
  // a carrier lock under a key of its own (issue 14).
  const carrier = await server.app.sql.reserve();
  const key = 1 + Math.floor(Math.random() * 0x7fff_fffe);
  try {
    await carrier`select pg_advisory_lock(${CARRIER_LOCKS}, ${key})`;
    const write = async (untilMs: number) => {
      const tag = uid('carried alert ');
      await server.app.sql`insert into outbox (topic, incident_id, payload, carrier, carrier_until)
        values ('alert', null, ${server.app.sql.json({ type: 'location_stale', at: Date.now(), detail: tag })}, ${key}, now() + ${untilMs}::integer * interval '1 millisecond')`;
      return tag;
    };
    const left = await write(60_000);
    const overdue = await write(-1);
    // Overdue though its carrier lives: the next pass takes it.
    await dispatcher.next('alert', (a) => a.detail === overdue, pollMs + POLL_SLACK_MS + 3_000);
    // Three passes later the live carrier's row is still there, and was never pushed.
    await sleep(3 * pollMs);
    assert.is((await server.app.sql`select 1 from outbox where payload->>'detail' = ${left}`).length, 1, 'a live carrier\'s row stays its own');
    assert.not.ok(dispatcher.events.some((e) => e.name === 'alert' && (e.payload as { detail?: string }).detail === left), 'a pass carried out a live carrier\'s row');
    // The carrier goes (as a dead process's connection does): the next pass carries it out.
    await carrier`select pg_advisory_unlock(${CARRIER_LOCKS}, ${key})`;
    const gone = Date.now();
    await dispatcher.next('alert', (a) => a.detail === left, pollMs + POLL_SLACK_MS + 3_000);
    const delay = receivedAt(dispatcher, 'alert', (a) => a.detail === left) - gone;
    assert.ok(delay <= pollMs + POLL_SLACK_MS, `the row went out ${delay} ms after its carrier was gone: more than one OUTBOX_POLL_MS (${pollMs}) + ${POLL_SLACK_MS} ms slack`);
    await eventually('the rows carried out are deleted', async () => (await server.app.sql`select 1 from outbox where payload->>'detail' in (${left}, ${overdue})`).length === 0, 5_000);
  } finally {
    await carrier`select pg_advisory_unlock_all()`.catch(() => null);
    carrier.release();
  }
});

test.run();
