// Public alerts in OASIS CAP 1.2 (issue 15), through the real server: a burst of
// critical incidents raises one alert, growth updates it and the end of its incidents
// cancels it; a dispatcher marks, re-marks and unmarks an incident for public warning;
// the Atom feed and every message are public. Every CAP document served is validated
// against the official OASIS schema (server/standards/schemas/cap-1.2.xsd) with xmllint,
// and the same validator is shown refusing invalid documents.
import * as assert from 'uvu/assert';
import { create } from 'xmlbuilder2';
import { AcceptGate } from '../server/services/accept.gate.ts';
import { PriorityLimiter } from '../server/concurrency/priority-limiter.ts';
import type { ServiceContext } from '../server/services/context.ts';
import { sweepPublicAlerts } from '../server/services/public-alerts.service.ts';
import { buildCapAlert } from '../server/standards/cap.builder.ts';
import type { LatLng } from '../shared/types.ts';
import { eventually, http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { validateXml } from './helpers/xmllint.ts';
import { area, closeAll, dispatcherToken, east, heroOnline, matchable, report } from './helpers/world.ts';

const SENDER = 'dispatch@superhero.example';
const CAP_SENT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00$/;

// Many emergencies at one spot are separate ones here: linking is off.
const test = serverSuite('cap', { SWEEP_INTERVAL_MS: 200, DEDUPE_RADIUS_M: 0, CAP_FEED_CACHE_MS: 0 });

// ---- helpers -------------------------------------------------------------------------------

const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
/** xmlbuilder2's object form keeps text escaped (it is meant to be written back): decoded here. */
const decoded = (v: unknown): unknown => {
  if (typeof v === 'string') return v.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  if (Array.isArray(v)) return v.map(decoded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decoded(x)]));
  return v;
};
const parseXml = (xml: string): any => decoded(create(xml).end({ format: 'object' }));

interface CapDoc { xml: string; alert: any; info: any; circle: { lat: number; lng: number; radiusKm: number } }

/** GET one message: public (no token), CAP's media type, valid against the OASIS schema. */
async function capDoc(server: TestServer, path: string): Promise<CapDoc> {
  const res = await http(server, 'GET', path);
  assert.is(res.status, 200, `${path}: ${res.status} ${String(res.body).slice(0, 200)}`);
  assert.is(res.headers.get('content-type'), 'application/cap+xml; charset=utf-8');
  const xml = res.body as string;
  const valid = validateXml(xml);
  assert.ok(valid.ok, `${path} is not valid CAP 1.2:\n${valid.output}\n${xml}`);
  const { alert } = parseXml(xml);
  const [latlng, radius] = String(alert.info.area.circle).split(' ');
  const [lat, lng] = latlng!.split(',').map(Number);
  return { xml, alert, info: alert.info, circle: { lat: lat!, lng: lng!, radiusKm: Number(radius) } };
}

const messagePath = (identifier: string) => `/v1/alerts/cap/${identifier}`;

/** The burst alerts counting any of these incidents. */
async function burstsOf(server: TestServer, incidentIds: string[]): Promise<string[]> {
  const rows = await server.app.sql<{ alert_id: string }[]>`
    select distinct alert_id from public_alert_members where incident_id = any(${incidentIds}::text[])`;
  return rows.map((r) => r.alert_id);
}

async function alertRow(server: TestServer, id: string) {
  const [row] = await server.app.sql<{ state: string; messages: number; last_identifier: string }[]>`
    select state, messages, last_identifier from public_alerts where id = ${id}`;
  return row!;
}

/** Reports `n` critical incidents of these kinds, `stepKm` apart eastwards from `at`. */
async function criticals(server: TestServer, civ: string, at: LatLng, kinds: string[], stepKm = 0.1): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, kind] of kinds.entries()) {
    const { status, incident } = await report(server, civ, { kind, severity: 'critical', location: east(at, i * stepKm) });
    assert.is(status, 201, JSON.stringify(incident));
    ids.push(incident.id);
  }
  return ids;
}

async function cancelAll(server: TestServer, disp: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const res = await http(server, 'POST', `/v1/incidents/${id}/cancel`, { token: disp, body: { reason: 'cap suite' } });
    assert.ok(res.status === 200 || res.status === 409, `cancel ${id}: ${res.status}`);
  }
}

/**
 * Every message of an alert, in order, each valid; each Update or Cancel references the
 * alert's first message and the one just before it, as "sender,identifier,sent".
 */
async function checkHistory(server: TestServer, alertId: string): Promise<CapDoc[]> {
  const { messages } = await alertRow(server, alertId);
  const docs: CapDoc[] = [];
  for (let n = 1; n <= messages; n++) docs.push(await capDoc(server, messagePath(`${alertId}.${n}`)));
  const ref = (d: CapDoc) => `${d.alert.sender},${d.alert.identifier},${d.alert.sent}`;
  docs.forEach((d, i) => {
    assert.is(d.alert.identifier, `${alertId}.${i + 1}`);
    assert.is(d.alert.sender, SENDER);
    assert.match(d.alert.sent, CAP_SENT, 'sent: UTC written -00:00, whole seconds');
    assert.is(d.alert.status, 'Actual');
    assert.is(d.alert.scope, 'Public');
    if (i === 0) {
      assert.is(d.alert.msgType, 'Alert');
      assert.is(d.alert.references, undefined, 'an Alert references nothing');
      return;
    }
    assert.ok(d.alert.msgType === 'Update' || (d.alert.msgType === 'Cancel' && i === docs.length - 1), `message ${i + 1}: ${d.alert.msgType}`);
    const expected = i === 1 ? ref(docs[0]!) : `${ref(docs[0]!)} ${ref(docs[i - 1]!)}`;
    assert.is(d.alert.references, expected, `message ${i + 1} references the first and the previous message`);
  });
  return docs;
}

/** The feed, public and parsed: its entries by alert id. */
async function feed(server: TestServer): Promise<Map<string, { href: string; msgType: string; title: string }>> {
  const res = await http(server, 'GET', '/v1/alerts/cap');
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/atom+xml; charset=utf-8');
  const wellFormed = validateXml(res.body as string, null);
  assert.ok(wellFormed.ok, `the feed is not well-formed XML: ${wellFormed.output}`);
  const { feed: doc } = parseXml(res.body as string);
  assert.is(doc['@xmlns'], 'http://www.w3.org/2005/Atom');
  assert.match(doc.id, /^urn:uuid:[0-9a-f-]{36}$/);
  assert.ok(doc.title && doc.updated && doc.author?.name === SENDER, 'feed title, updated and author');
  const entries = new Map<string, { href: string; msgType: string; title: string }>();
  for (const e of asArray<any>(doc.entry)) {
    const link = asArray<any>(e.link).find((l) => l['@rel'] === 'alternate');
    assert.is(link['@type'], 'application/cap+xml');
    assert.match(e.updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    entries.set(String(e.id).replace('urn:uuid:', ''), { href: new URL(link['@href'], `${server.url}/v1/alerts/cap`).pathname, msgType: e.category['@term'], title: e.title });
  }
  assert.ok(entries.size <= server.app.config.CAP_FEED_MAX, 'the feed is bounded');
  return entries;
}

// ---- the burst trigger -------------------------------------------------------------------

test('a burst of critical incidents raises one public alert (fewer do not), listed in the public feed', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const center = area();
  const four = await criticals(server, civ, center, ['fire', 'medical', 'crime', 'accident']);
  // A full burst elsewhere, reported after the four: once its alert is up, a sweep has
  // looked at the four too.
  const elsewhere = await criticals(server, civ, area(), ['fire', 'fire', 'fire', 'fire', 'fire']);
  await eventually('the alert elsewhere', async () => (await burstsOf(server, elsewhere)).length === 1, 10_000);
  assert.equal(await burstsOf(server, four), [], 'four critical incidents are not a burst');

  const fifth = await criticals(server, civ, east(center, 0.4), ['fire']);
  const ids = [...four, ...fifth];
  const [alertId] = await eventually('the burst alert', async () => {
    const found = await burstsOf(server, ids);
    return found.length ? found : null;
  }, 10_000);
  assert.equal(await burstsOf(server, ids), [alertId], 'one alert for the area');
  const members = await server.app.sql`select incident_id from public_alert_members where alert_id = ${alertId!}`;
  assert.equal(members.map((m) => m.incident_id).sort(), [...ids].sort(), 'it counts all five');

  const [doc] = await checkHistory(server, alertId!);
  const { alert, info, circle } = doc!;
  assert.is(alert['@xmlns'], 'urn:oasis:names:tc:emergency:cap:1.2');
  assert.equal(asArray(info.category).sort(), ['Fire', 'Health', 'Safety', 'Security'], 'the kinds\' CAP categories');
  assert.is(info.event, 'Multiple emergencies');
  assert.is(info.urgency, 'Immediate');
  assert.is(info.severity, 'Extreme');
  assert.is(info.certainty, 'Likely', 'civilian reports, unconfirmed');
  assert.match(info.headline, /^5 critical emergencies/);
  // lat,lon: our test areas have latitudes in [-70, 70] and longitudes near -170, so a
  // swapped pair would not even be a latitude.
  assert.ok(Math.abs(circle.lat - center.lat) < 0.01, `circle latitude first: ${info.area.circle} for ${JSON.stringify(center)}`);
  assert.ok(Math.abs(circle.lng - east(center, 0.2).lng) < 0.01, `circle longitude second: ${info.area.circle}`);
  assert.ok(circle.radiusKm >= 0.3 && circle.radiusKm <= 1, `radius ${circle.radiusKm} km holds the incidents 0.4 km apart`);

  // The feed lists it, and its link (relative to the feed) serves the same document.
  const entry = (await feed(server)).get(alertId!);
  assert.ok(entry, 'the alert is in the feed');
  assert.is(entry!.msgType, 'Alert');
  assert.is(entry!.href, messagePath(`${alertId}.1`));
  assert.is((await capDoc(server, entry!.href)).xml, doc!.xml);

  await cancelAll(server, disp, [...ids, ...elsewhere]);
});

test('growth updates the alert (references the earlier message); resolution and cancels end it', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const center = area();
  const hero = await heroOnline(server, center, 0.2);
  await matchable(server, [hero]);
  const first = await criticals(server, civ, center, ['fire', 'fire', 'fire', 'fire', 'fire']);
  // The hero takes one of them, and will resolve it.
  const offer = await hero.client.next('offer');
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: offer.incident.id });
  const [alertId] = await eventually('the burst alert', async () => {
    const found = await burstsOf(server, first);
    return found.length ? found : null;
  }, 10_000);

  // A critical incident 3 km away is not in this neighbourhood; one 0.3 km away is.
  const far = await criticals(server, civ, east(center, 3), ['fire']);
  const sixth = await criticals(server, civ, east(center, 0.3), ['medical']);
  await eventually('the Update', async () => (await alertRow(server, alertId!)).messages >= 2, 10_000);
  const [, update] = await checkHistory(server, alertId!);
  assert.is(update!.alert.msgType, 'Update');
  assert.match(update!.info.headline, /^6 critical emergencies/);
  assert.equal(asArray(update!.info.category).sort(), ['Fire', 'Health']);
  const members = await server.app.sql`select incident_id from public_alert_members where alert_id = ${alertId!}`;
  assert.equal(members.map((m) => m.incident_id).sort(), [...first, ...sixth].sort(), 'the far incident is not counted');

  // The hero resolves theirs; dispatchers cancel the rest: the alert is cancelled.
  for (const state of ['en_route', 'on_scene', 'resolved'] as const) {
    assert.equal(await hero.client.ask('incident:progress', { incidentId: offer.incident.id, state }), { ok: true, state });
  }
  await cancelAll(server, disp, [...first, ...sixth].filter((id) => id !== offer.incident.id));
  await eventually('the Cancel', async () => (await alertRow(server, alertId!)).state === 'cancelled', 10_000);
  const history = await checkHistory(server, alertId!);
  const cancel = history.at(-1)!;
  assert.is(cancel.alert.msgType, 'Cancel');
  assert.match(cancel.alert.note, /resolved or cancelled/);
  assert.is(cancel.info.responseType, 'AllClear');
  assert.is(cancel.info.urgency, 'Past');
  const entry = (await feed(server)).get(alertId!);
  assert.is(entry?.msgType, 'Cancel', 'the feed shows the Cancel');
  assert.is(entry?.href, messagePath(`${alertId}.${history.length}`));

  await cancelAll(server, disp, far);
  closeAll(hero);
});

// ---- the dispatcher's warning ------------------------------------------------------------

test('a dispatcher marks an incident for public warning, marks it again and unmarks it', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const center = area();
  const { incident } = await report(server, civ, { kind: 'fire', severity: 'high', location: center });
  const path = `/v1/incidents/${incident.id}/public-warning`;

  const marked = await http(server, 'POST', path, { token: disp, body: {} });
  assert.is(marked.status, 201, JSON.stringify(marked.body));
  const alertId = marked.body.id as string;
  assert.is(marked.body.msgType, 'Alert');
  assert.is(marked.body.identifier, `${alertId}.1`);
  assert.is(marked.headers.get('location'), messagePath(`${alertId}.1`));
  const [alert] = await checkHistory(server, alertId);
  assert.equal(alert!.info.category, 'Fire');
  assert.is(alert!.info.event, 'Fire');
  assert.is(alert!.info.urgency, 'Immediate');
  assert.is(alert!.info.severity, 'Severe', 'high is Severe');
  assert.is(alert!.info.certainty, 'Observed', 'a dispatcher judged it');
  assert.match(alert!.info.instruction, /Keep away/);
  assert.equal(alert!.circle, { lat: Number(center.lat.toFixed(5)), lng: Number(center.lng.toFixed(5)), radiusKm: 1 }, 'lat,lon radius');
  assert.ok(alert!.xml.includes(`<circle>${Number(center.lat.toFixed(5))},${Number(center.lng.toFixed(5))} 1</circle>`));

  const again = await http(server, 'POST', path, { token: disp, body: { headline: 'Large fire: keep away', instruction: 'Close windows & doors.', radiusKm: 2.5 } });
  assert.is(again.status, 200, JSON.stringify(again.body));
  assert.is(again.body.id, alertId, 'the same alert');
  assert.is(again.body.msgType, 'Update');
  const [, update] = await checkHistory(server, alertId);
  assert.is(update!.info.headline, 'Large fire: keep away');
  assert.is(update!.info.instruction, 'Close windows & doors.');
  assert.is(update!.circle.radiusKm, 2.5);

  const unmarked = await http(server, 'DELETE', path, { token: disp });
  assert.is(unmarked.status, 200, JSON.stringify(unmarked.body));
  assert.is(unmarked.body.state, 'cancelled');
  assert.is(unmarked.body.msgType, 'Cancel');
  const history = await checkHistory(server, alertId);
  assert.is(history.length, 3);
  assert.match(history[2]!.alert.note, /withdrawn by a dispatcher/);
  assert.is((await http(server, 'DELETE', path, { token: disp })).status, 404, 'nothing left to withdraw');

  // A new mark is a new alert; the incident's end cancels it (the sweep's step).
  const renewed = await http(server, 'POST', path, { token: disp, body: { radiusKm: 0.5 } });
  assert.is(renewed.status, 201);
  assert.is.not(renewed.body.id, alertId);
  await cancelAll(server, disp, [incident.id]);
  await eventually('the warning cancelled with its incident', async () => (await alertRow(server, renewed.body.id)).state === 'cancelled', 10_000);
  const ended = await checkHistory(server, renewed.body.id);
  assert.is(ended.at(-1)!.alert.msgType, 'Cancel');
  assert.match(ended.at(-1)!.alert.note, /cancelled/);
  const late = await http(server, 'POST', path, { token: disp, body: {} });
  assert.is(late.status, 409, 'an ended incident has nothing to warn about');
});

test('only dispatchers mark or unmark; the feed and its messages need no token', async ({ server }) => {
  const civId = uid('civ-');
  const civ = await server.token('civilian', civId);
  const disp = await dispatcherToken(server);
  const { incident } = await report(server, civ, { kind: 'crime', severity: 'medium', location: area() });
  const path = `/v1/incidents/${incident.id}/public-warning`;
  const hero = await server.token('hero', uid('h-'));
  const expect = async (status: number, method: string, url: string, opts: Parameters<typeof http>[3] = {}) => {
    const res = await http(server, method, url, opts);
    assert.is(res.status, status, `${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  await expect(403, 'POST', path, { token: civ, body: {} });
  await expect(403, 'POST', path, { token: hero, body: {} });
  await expect(401, 'POST', path, { body: {} });
  await expect(403, 'DELETE', path, { token: civ });
  await expect(403, 'DELETE', path, { token: hero });
  await expect(404, 'POST', `/v1/incidents/${uid('i-')}/public-warning`, { token: disp, body: {} });
  await expect(400, 'POST', path, { token: disp, body: { radiusKm: -1 } });
  await expect(400, 'POST', path, { token: disp, body: { headline: 'bell \u0007' } });
  await expect(400, 'POST', path, { token: disp, body: { colour: 'red' } });
  await expect(404, 'GET', messagePath(uid('no-such-')));
  assert.equal((await server.app.sql`select 1 from public_alerts where incident_id = ${incident.id}`).length, 0, 'nothing raised by the refusals');

  // Marked by a dispatcher, it is read by anyone: the feed and the message, no token.
  const marked = await expect(201, 'POST', path, { token: disp, body: {} });
  const entry = await eventually('the warning in the feed', async () => (await feed(server)).get(marked.body.id), 5_000);
  const doc = await capDoc(server, entry.href);
  assert.is(doc.info.category, 'Security');
  assert.is(doc.info.urgency, 'Expected');
  assert.is(doc.info.severity, 'Moderate');
  await cancelAll(server, disp, [incident.id]);
});

// ---- the validator can fail -------------------------------------------------------------

test('the validator refuses invalid CAP: a bad msgType, a Z time, a missing element', () => {
  const valid = buildCapAlert({
    identifier: 'example.1', sender: SENDER, sent: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)), msgType: 'Alert', references: [],
    info: {
      categories: ['Fire'], event: 'Fire', responseType: 'Avoid', urgency: 'Immediate', severity: 'Severe', certainty: 'Observed',
      headline: 'h <&> "quoted"', description: 'd \u0001 control dropped', instruction: 'i', areaDesc: 'a', circle: { lat: 52.52, lng: 13.405, radiusKm: 1 },
    },
  });
  assert.ok(valid.includes('<sent>2025-01-02T03:04:05-00:00</sent>'), 'UTC as -00:00, whole seconds');
  const ok = validateXml(valid);
  assert.ok(ok.ok, ok.output);
  for (const [what, bad] of [
    ['a bad msgType', valid.replace('<msgType>Alert</msgType>', '<msgType>Bogus</msgType>')],
    ['sent with Z', valid.replace('-00:00</sent>', 'Z</sent>')],
    ['no sender', valid.replace(`<sender>${SENDER}</sender>`, '')],
  ] as const) {
    assert.is.not(bad, valid, what);
    const result = validateXml(bad);
    assert.not.ok(result.ok, `${what} passed the schema`);
    assert.match(result.output, /fails to validate/, what);
  }
});

test.run();

// ---- racing sweeps ------------------------------------------------------------------------

// The server's own sweeps are far apart here: the test runs the sweeps itself, at once.
const race = serverSuite('cap: racing sweeps and marks', { SWEEP_INTERVAL_MS: 600_000, DEDUPE_RADIUS_M: 0, CAP_FEED_MAX: 2, CAP_FEED_CACHE_MS: 0 });

/** A second set of workers on the same database, as another process of the cluster would have; its rows name no carrier, so the server's passes carry them out. */
function otherProcess(server: TestServer): ServiceContext {
  const { config, sql, log, metrics } = server.app;
  return { config, sql, log, metrics, outbox: { carrier: () => null, carry: () => {} }, acceptGate: new AcceptGate(), transactions: new PriorityLimiter({ concurrency: 8 }) };
}

race('sweeps racing over one burst raise exactly one alert, and racing again sends nothing more', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const ids = await criticals(server, civ, area(), ['fire', 'medical', 'fire', 'medical', 'fire']);
  const ctx = otherProcess(server);
  const sweeps = await Promise.allSettled(Array.from({ length: 8 }, () => sweepPublicAlerts(ctx)));
  assert.equal(sweeps.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)), [], 'no sweep failed');
  const alerts = await burstsOf(server, ids);
  assert.is(alerts.length, 1, 'one alert for the burst');
  const raised = await server.app.sql`select count(*)::int as n from public_alerts where trigger = 'burst' and incident_id = any(${ids}::text[])`;
  assert.is(raised[0]!.n, 1, 'one alert row');
  await Promise.all(Array.from({ length: 8 }, () => sweepPublicAlerts(ctx)));
  assert.is((await alertRow(server, alerts[0]!)).messages, 1, 'nothing changed, nothing sent');
  await checkHistory(server, alerts[0]!);
  await cancelAll(server, disp, ids);
});

race('marks racing on one incident make one alert and a clean run of updates', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const { incident } = await report(server, civ, { kind: 'disaster', severity: 'critical', location: area() });
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    http(server, 'POST', `/v1/incidents/${incident.id}/public-warning`, { token: disp, body: { headline: `mark ${i}` } })));
  assert.equal(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 201], JSON.stringify(answers.map((a) => a.body)));
  const ids = new Set(answers.map((a) => a.body.id));
  assert.is(ids.size, 1, 'one alert');
  const history = await checkHistory(server, [...ids][0]);
  assert.is(history.length, 6);
  assert.is(history[0]!.info.category, 'Safety');
  assert.is(history[0]!.info.severity, 'Extreme');
  await cancelAll(server, disp, [incident.id]);
});

race('the feed is bounded: the latest CAP_FEED_MAX alerts, newest first', async ({ server }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const disp = await dispatcherToken(server);
  const incidents: string[] = [];
  const alerts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { incident } = await report(server, civ, { kind: 'fire', severity: 'low', location: area() });
    incidents.push(incident.id);
    const marked = await http(server, 'POST', `/v1/incidents/${incident.id}/public-warning`, { token: disp, body: {} });
    assert.is(marked.status, 201);
    alerts.push(marked.body.id);
  }
  const res = await http(server, 'GET', '/v1/alerts/cap');
  const entries = asArray<any>(parseXml(res.body as string).feed.entry).map((e) => String(e.id).replace('urn:uuid:', ''));
  assert.equal(entries, [alerts[2], alerts[1]], 'the two latest, newest first');
  await cancelAll(server, disp, incidents);
});

race.run();
