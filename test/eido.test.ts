// NENA EIDO export (GET /v1/incidents/:id/eido), through the real server: every document
// passes the zod schema written from NENA-STA-021.1b's required elements
// (server/standards/eido.schema.ts), along a single hero's whole life, a team with
// several resources, linked reports' words as notes, every kind and severity, a
// cancel, and the refusals. Then the builder alone, over every kind × state and random
// members, trails and ids (fast-check).
import fc from 'fast-check';
import { suite } from 'uvu';
import { create } from 'xmlbuilder2';
import * as assert from 'uvu/assert';
import {
  ASSIGNMENT_STATES, INCIDENT_KINDS, INCIDENT_STATES, isFinalState, MEMBER_PROGRESS, SEVERITIES,
  type IncidentKind, type IncidentState, type MemberProgress,
} from '../shared/domain.ts';
import type { AssignmentView, IncidentEventView, IncidentView, LatLng } from '../shared/types.ts';
import { responsesObserved } from '../server/http/conformance.ts';
import { buildEido, trackingId, urnToken } from '../server/standards/eido.builder.ts';
import { INCIDENT_TYPE, PRIORITY, STATE_STATUS } from '../server/standards/eido.mapping.ts';
import { INCIDENT_TYPES } from '../server/standards/eido.registries.ts';
import { eidoDocument, type EidoDocument } from '../server/standards/eido.schema.ts';
import { http } from './helpers/clients.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { serverSuite } from './helpers/server-suite.ts';
import { area, closeAll, dispatcherToken, east, heroOnline, matchable, report, type OnlineHero } from './helpers/world.ts';

const AGENCY = 'eido.test.example';

/** The document, after checking it against the schema and the rules every one of ours keeps. */
function checked(body: unknown, incident: { id: string; location: LatLng }): EidoDocument {
  const parsed = eidoDocument.safeParse(body);
  assert.ok(parsed.success, `schema: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 5))}`);
  const doc = parsed.data;
  // The Incident Tracking Identifier is the document's $id; the version is 1.0.
  assert.is(doc.$id, `urn:emergency:uid:incidentid:${incident.id.replaceAll('-', '')}:${AGENCY}`);
  assert.is(doc.eidoVersion, '1.0');
  // Every component carries $id and a lastUpdateTimeStamp with an explicit offset.
  const components = [doc, doc.incidentComponent, ...doc.agencyComponent, ...(doc.agentComponent ?? []), ...(doc.locationComponent ?? []),
    ...(doc.notesComponent ?? []), ...(doc.emergencyResourceComponent ?? []), ...(doc.dispatchComponent ?? [])];
  for (const c of components) {
    assert.ok(c && typeof c.$id === 'string' && c.$id.length > 0, 'a $id');
    assert.match(c!.lastUpdateTimeStamp, /T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/, `${c!.$id}: offset`);
  }
  // The location: one PIDF-LO point, WGS 84 latitude then longitude.
  const [loc] = doc.locationComponent ?? [];
  assert.is(loc?.locationTypeDescriptionRegistryText, 'CurrentIncident');
  assert.ok(loc?.locationByValue?.includes('<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'), 'EPSG 4326 point');
  assert.ok(loc?.locationByValue?.includes(`<gml:pos>${incident.location.lat} ${incident.location.lng}</gml:pos>`), 'lat lon');
  assert.equal(doc.incidentComponent?.locationReference, [{ $ref: loc!.$id }]);
  return doc;
}

async function eidoOf(server: TestServer, token: string, incident: { id: string; location: LatLng }): Promise<EidoDocument> {
  const res = await http(server, 'GET', `/v1/incidents/${incident.id}/eido`, { token });
  assert.is(res.status, 200, JSON.stringify(res.body)?.slice(0, 300));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return checked(res.body, incident);
}

const statuses = (d: EidoDocument) => d.incidentComponent?.incidentStatusCommonRegistryText;
const units = (d: EidoDocument) => (d.emergencyResourceComponent ?? [])
  .map((r) => ({ id: r.$id, name: r.emergencyResourceName, primary: r.primaryUnitStatusRegistryText, secondary: r.secondaryUnitStatusRegistryText }));
const unitOf = (d: EidoDocument, heroId: string) => d.emergencyResourceComponent?.find((r) => r.$id === `unit-${urnToken(heroId)}@${AGENCY}`);
const agentOf = (d: EidoDocument, id: string) => d.agentComponent?.find((a) => a.$id === id);
const notes = (d: EidoDocument) => (d.notesComponent ?? []).map((n) => n.notesActionComments);
const progress = (h: OnlineHero, incidentId: string, state: string) => h.client.ask('incident:progress', { incidentId, state });

type Ctx = { server: TestServer; disp: string };
const test = serverSuite<Ctx>('eido', { EIDO_AGENCY_ID: AGENCY, OFFER_TIMEOUT_MS: 10_000, DISPATCH_RETRY_MS: 200 });
test.before(async (ctx) => { ctx.disp = await dispatcherToken(ctx.server); });

test('one hero, report to resolved: every step passes the schema, status and resource follow', async ({ server, disp }) => {
  const center = area();
  const hero = await heroOnline(server, center, 0.5, { skills: ['fire'] });
  await matchable(server, [hero]);
  const civ = await server.token('civilian', uid('civ-'));
  const { status, incident } = await report(server, civ, { kind: 'fire', severity: 'high', location: center, description: 'kitchen fire' });
  assert.is(status, 201);

  const docs: EidoDocument[] = [];
  const step = async () => { const d = await eidoOf(server, disp, incident); docs.push(d); return d; };
  const first = await step();
  assert.equal(statuses(first), ['Active'], 'reported or dispatching: active, no resource yet');
  assert.is(first.emergencyResourceComponent, undefined);
  assert.is(first.dispatchComponent, undefined);
  assert.is(first.incidentComponent?.incidentTypeCommonRegistryText, 'FUNK');
  assert.is(first.incidentComponent?.incidentCommonPriorityNumber, PRIORITY.high);
  assert.equal(notes(first), ['kitchen fire']);
  assert.equal(first.agencyComponent.map((a) => [a.$id, a.agencyRoleDescriptionRegistryText]), [[AGENCY, ['CallReceiving', 'Dispatching']]]);

  const offer = await hero.client.next('offer', (o) => o.incident.id === incident.id);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  const assigned = await step();
  assert.equal(statuses(assigned), ['Active', 'ResourcesAssigned']);
  assert.equal(units(assigned), [{ id: `unit-${urnToken(hero.id)}@${AGENCY}`, name: hero.name, primary: 'NotAvailable', secondary: ['Assigned'] }]);
  assert.equal(unitOf(assigned, hero.id)?.resourceAttributeRegistryText, ['Firefighter']);
  // The hero is the resource's agent; the accept was theirs; our agency dispatched it.
  const heroAgent = `hero-${urnToken(hero.id)}@${AGENCY}`;
  assert.equal(unitOf(assigned, hero.id)?.agentReference, [{ $ref: heroAgent }]);
  assert.equal(unitOf(assigned, hero.id)?.updatedByAgentReference, { $ref: heroAgent });
  assert.ok(agentOf(assigned, heroAgent), 'the hero is an agent of the document');
  assert.equal(assigned.dispatchComponent?.[0]?.emergencyResourceReference, [{ $ref: unitOf(assigned, hero.id)!.$id }]);
  assert.ok(assigned.agencyComponent[0]!.agencyRoleDescriptionRegistryText.includes('Dispatched'));

  assert.equal(await progress(hero, incident.id, 'en_route'), { ok: true, state: 'en_route' });
  const enRoute = await step();
  assert.equal(statuses(enRoute), ['Active', 'ResourcesAssigned', 'ResourcesEnroute']);
  assert.equal(units(enRoute).map((u) => [u.primary, u.secondary]), [['NotAvailable', ['EnRoute']]]);

  assert.equal(await progress(hero, incident.id, 'on_scene'), { ok: true, state: 'on_scene' });
  const onScene = await step();
  assert.equal(statuses(onScene), ['Active', 'ResourcesAssigned', 'ResourcesOnscene']);
  assert.equal(units(onScene).map((u) => [u.primary, u.secondary]), [['NotAvailable', ['OnScene']]]);

  assert.equal(await progress(hero, incident.id, 'resolved'), { ok: true, state: 'resolved' });
  const resolved = await step();
  assert.equal(statuses(resolved), ['Closed']);
  assert.equal(units(resolved).map((u) => [u.primary, u.secondary]), [['Available', ['Cleared']]]);

  assert.equal(docs.map((d) => d.incidentComponent?.incidentStatusInternalText?.[0]).slice(1), ['assigned', 'en_route', 'on_scene', 'resolved']);
  // Identifiers are the same in every EIDO of the incident (§2.1); time only moves forward.
  assert.is(new Set(docs.map((d) => `${d.incidentComponent?.$id} ${d.locationComponent?.[0]?.$id} ${d.notesComponent?.[0]?.$id}`)).size, 1);
  assert.is(new Set(docs.slice(1).map((d) => d.emergencyResourceComponent?.[0]?.$id)).size, 1);
  const times = docs.map((d) => Date.parse(d.lastUpdateTimeStamp));
  assert.equal([...times].sort((a, b) => a - b), times);
  assert.ok(times[4]! > times[0]!, 'the document changed as the incident did');
  closeAll(hero);
});

test('a team: several resources, each with its own status, and a released member', async ({ server, disp }) => {
  const center = area();
  const medic = await heroOnline(server, center, 0.3, { skills: ['medic'] });
  const rescuer = await heroOnline(server, center, 0.5, { skills: ['rescue'] });
  await matchable(server, [medic, rescuer]);
  const civ = await server.token('civilian', uid('civ-'));
  const { incident } = await report(server, civ, {
    kind: 'disaster', severity: 'high', location: center, needs: [{ skill: 'medic', count: 1 }, { skill: 'rescue', count: 1 }],
  });
  for (const h of [medic, rescuer]) {
    const offer = await h.client.next('offer', (o) => o.incident.id === incident.id);
    assert.equal(await h.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: incident.id });
  }
  // Each member reports their own progress (the ack names the incident's, the least advanced).
  for (const [h, state] of [[medic, 'en_route'], [rescuer, 'en_route'], [rescuer, 'on_scene']] as const) {
    assert.is((await progress(h, incident.id, state)).ok, true, `${h.name} ${state}`);
  }

  const doc = await eidoOf(server, disp, incident);
  assert.is(doc.incidentComponent?.incidentTypeCommonRegistryText, 'MAJORINC');
  assert.equal(doc.incidentComponent?.incidentStatusInternalText, ['en_route'], 'the least advanced member');
  assert.equal(statuses(doc), ['Active', 'ResourcesAssigned', 'ResourcesEnroute', 'ResourcesOnscene']);
  assert.equal(units(doc).map((u) => [u.name, u.primary, u.secondary]), [
    [medic.name, 'NotAvailable', ['EnRoute']], [rescuer.name, 'NotAvailable', ['OnScene']],
  ]);
  assert.equal(unitOf(doc, medic.id)?.resourceAttributeRegistryText, ['EMT']);
  assert.equal(unitOf(doc, rescuer.id)?.resourceAttributeRegistryText, [], 'rescue has no registry attribute');
  assert.equal(doc.dispatchComponent?.[0]?.emergencyResourceReference?.map((r) => r.$ref), units(doc).map((u) => u.id));

  // A dispatcher releases the medic: their unit says so, and the dispatcher is the agent who did it.
  const released = await http(server, 'POST', `/v1/incidents/${incident.id}/reassign`, { token: disp, body: { reason: 'eido suite', heroId: medic.id } });
  assert.is(released.status, 200, JSON.stringify(released.body));
  const after = await eidoOf(server, disp, incident);
  assert.equal(units(after).map((u) => [u.name, u.primary, u.secondary]), [
    [medic.name, 'Available', ['AssignmentCancelled']], [rescuer.name, 'NotAvailable', ['OnScene']],
  ]);
  assert.equal(statuses(after), ['Active', 'ResourcesAssigned', 'ResourcesOnscene']);
  const medicUnit = unitOf(after, medic.id)!;
  const dispatcherAgent = agentOf(after, medicUnit.updatedByAgentReference!.$ref);
  assert.match(dispatcherAgent!.$id, /^dispatcher-/);
  assert.equal(dispatcherAgent!.agentRoleRegistryText, ['Dispatching']);
  closeAll(medic, rescuer);
});

test('linked reports: each report\'s words are a note, escaped as HTML', async ({ server, disp }) => {
  const center = area();
  const [alice, bob, carol] = await Promise.all([0, 1, 2].map(() => server.token('civilian', uid('civ-'))));
  const first = await report(server, alice!, { kind: 'fire', severity: 'medium', location: center, description: 'smoke from the bakery' });
  assert.is(first.status, 201);
  const words = '<script>alert(1)</script> flames on the 2nd floor & spreading';
  const second = await report(server, bob!, { kind: 'fire', severity: 'high', location: east(center, 0.05), description: words });
  assert.equal([second.status, second.incident.id], [200, first.incident.id], 'linked');
  const third = await report(server, carol!, { kind: 'fire', severity: 'low', location: east(center, 0.03) });
  assert.equal([third.status, third.incident.id], [200, first.incident.id], 'linked, without words');

  const doc = await eidoOf(server, disp, first.incident);
  assert.equal(notes(doc), [
    'smoke from the bakery', '&lt;script&gt;alert(1)&lt;/script&gt; flames on the 2nd floor &amp; spreading',
  ]);
  assert.equal(doc.incidentComponent?.notesReference?.map((r) => r.$ref), doc.notesComponent?.map((n) => n.$id));
  assert.is(doc.incidentComponent?.incidentCommonPriorityNumber, PRIORITY.high, 'the linked report raised the severity');
  await http(server, 'POST', `/v1/incidents/${first.incident.id}/cancel`, { token: disp, body: { reason: 'eido suite' } });
});

test('every kind maps to an Incident Type registry value, every severity to a priority; a cancel is Cancelled', async ({ server, disp }) => {
  const seen: string[] = [];
  for (const [i, kind] of INCIDENT_KINDS.entries()) {
    const severity = SEVERITIES[i % SEVERITIES.length]!;
    const civ = await server.token('civilian', uid('civ-'));
    const { status, incident } = await report(server, civ, { kind, severity, location: area() });
    assert.is(status, 201);
    const doc = await eidoOf(server, disp, incident);
    const code = doc.incidentComponent!.incidentTypeCommonRegistryText;
    assert.is(code, INCIDENT_TYPE[kind].code, kind);
    assert.ok((INCIDENT_TYPES as readonly string[]).includes(code), `${kind}: ${code} is in the registry`);
    assert.is(doc.incidentComponent?.incidentTypeInternalCode, kind);
    assert.is(doc.incidentComponent?.incidentCommonPriorityNumber, PRIORITY[severity], severity);
    assert.is(doc.incidentComponent?.incidentPriorityInternalText, severity);
    seen.push(severity);
    const cancelled = await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: disp, body: { reason: 'eido suite' } });
    assert.is(cancelled.status, 200);
    assert.equal(statuses(await eidoOf(server, disp, incident)), ['Cancelled']);
  }
  assert.equal([...new Set(seen)].sort(), [...SEVERITIES].sort(), 'every severity');
});

test('dispatchers only: 401 without a token, 403 for its reporter or a hero, 404 for an unknown id', async ({ server, disp }) => {
  const civ = await server.token('civilian', uid('civ-'));
  const { incident } = await report(server, civ, { kind: 'other', severity: 'low', location: area() });
  const hero = await server.token('hero', uid('h-'));
  const path = `/v1/incidents/${incident.id}/eido`;
  const refusals = [
    [await http(server, 'GET', path), 401, 'unauthorized'],
    [await http(server, 'GET', path, { token: civ }), 403, 'forbidden'],
    [await http(server, 'GET', path, { token: hero }), 403, 'forbidden'],
    [await http(server, 'GET', `/v1/incidents/${uid('i-')}/eido`, { token: disp }), 404, 'not_found'],
  ] as const;
  for (const [res, status, code] of refusals) {
    assert.is(res.status, status);
    assert.is(res.body.code, code);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  }
  assert.is((await http(server, 'GET', path, { token: disp })).status, 200);
  await http(server, 'POST', `/v1/incidents/${incident.id}/cancel`, { token: disp, body: { reason: 'eido suite' } });
});

// Every answer above was also checked against this document's schema, status by status:
// test servers run with HTTP_RESPONSE_CHECK and the suite's invariants fail a mismatch.
test('the OpenAPI document describes the route, with the EIDO schema and a valid example', async ({ server }) => {
  const doc = (await http(server, 'GET', '/openapi.json')).body;
  const op = doc.paths['/v1/incidents/{id}/eido'].get;
  assert.equal(op['x-roles'], ['dispatcher']);
  assert.equal(Object.keys(op.responses).sort(), ['200', '400', '401', '403', '404', '429', '503']);
  const schema = doc.components.schemas[op.responses['200'].content['application/json'].schema.$ref.split('/').at(-1)];
  assert.ok(schema.properties.$id && schema.properties.eidoVersion, 'the EIDO schema, $id included');
  assert.ok(eidoDocument.safeParse(schema.examples[0]).success, 'its example is a valid EIDO');
  const seen = new Set(responsesObserved(server.app.http).filter((o) => o.url === '/v1/incidents/:id/eido').map((o) => o.status));
  assert.equal([...seen].sort(), [200, 401, 403, 404], 'the answers checked against it');
});

test.run();

// ---- the builder alone ---------------------------------------------------------------------

const unit = suite('eido builder');
const T0 = 1_760_000_000_000;
const INCIDENT_ID = '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77';

/** A member as views show it: an active member has not resolved; a completed one has. */
const member = (heroId: string, slot: number, state: AssignmentView['state'], progress: MemberProgress): AssignmentView => ({
  heroId, skill: null, slot, assignedAt: T0 + 1_000 * (slot + 1),
  state, progress: state === 'completed' ? 'resolved' : state === 'active' && progress === 'resolved' ? 'on_scene' : progress,
});

function view(kind: IncidentKind, state: IncidentState, assignments: AssignmentView[], over: Partial<IncidentView> = {}): IncidentView {
  return {
    id: INCIDENT_ID, kind, severity: 'medium', state, location: { lat: -33.8688, lng: 151.2093 }, description: 'help', needs: [],
    reportedBy: 'civ', assignments, slots: [], teamEtaAt: null, reports: 1, version: 3, createdAt: T0, updatedAt: T0 + 60_000, ...over,
  };
}

const trail: IncidentEventView[] = [
  { seq: 1, type: 'REPORTED', from: null, to: 'reported', actor: 'civilian:civ', at: T0, data: {} },
  { seq: 2, type: 'ROUND', from: 'reported', to: 'dispatching', actor: 'system:dispatch', at: T0 + 10, data: { offered: ['h1'] } },
  { seq: 3, type: 'ASSIGN', from: 'dispatching', to: 'assigned', actor: 'dispatcher:d1', at: T0 + 1_000, data: { heroId: 'h1', slot: 0, by: 'dispatcher' } },
];

const build = (incident: IncidentView, events = trail) => buildEido({
  incident, events, agencyId: AGENCY, heroes: [{ id: 'h1', name: 'Hero One', skills: ['medic', 'fire'], mode: 'ground' }],
});

unit('every kind × state passes the schema, with the mapped type and the state\'s own status', () => {
  for (const kind of INCIDENT_KINDS) {
    for (const state of INCIDENT_STATES) {
      const members = isFinalState(state) || ['reported', 'dispatching', 'escalated'].includes(state) ? []
        : [member('h1', 0, 'active', state === 'assigned' ? 'assigned' : (state as MemberProgress))];
      const doc = checked(build(view(kind, state, members)), { id: INCIDENT_ID, location: { lat: -33.8688, lng: 151.2093 } });
      assert.is(doc.incidentComponent?.incidentTypeCommonRegistryText, INCIDENT_TYPE[kind].code);
      const status = statuses(doc)!;
      assert.is(status[0], state === 'resolved' ? 'Closed' : state === 'cancelled' ? 'Cancelled' : 'Active', `${kind} ${state}`);
      assert.is(status[0], STATE_STATUS[state], 'as the mapping table says');
      if (isFinalState(state)) assert.is(status.length, 1, `${state}: its final status alone`);
      assert.is(status.includes('ResourcesAssigned'), members.length > 0, `${kind} ${state}`);
      assert.is(status.includes('ResourcesEnroute'), state === 'en_route');
      assert.is(status.includes('ResourcesOnscene'), state === 'on_scene');
    }
  }
});

const memberArb = fc.record({
  hero: fc.constantFrom('h1', 'h2', 'h3', '0e8f7a6b-5c4d-4e2f-9a1b-b2f4c6d80a1b', 'hero with spaces'),
  state: fc.constantFrom(...ASSIGNMENT_STATES), progress: fc.constantFrom(...MEMBER_PROGRESS),
});

unit('random teams, trails and words: always valid, each unit\'s status from its member, words never as markup', () => {
  fc.assert(fc.property(
    fc.constantFrom(...INCIDENT_KINDS), fc.constantFrom(...INCIDENT_STATES), fc.constantFrom(...SEVERITIES),
    fc.array(memberArb, { maxLength: 6 }), fc.string({ maxLength: 60 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
    (kind, state, severity, ms, description, linked) => {
      const assignments = ms.map((m, slot) => member(m.hero, slot, m.state, m.progress));
      const events: IncidentEventView[] = [...trail, ...linked.map((words, i) => ({
        seq: 4 + i, type: 'LINKED', from: state, to: state, actor: `civilian:c${i}`, at: T0 + 2_000 + i, data: { description: words },
      }))];
      const incident = view(kind, state, assignments, { severity, description, version: events.length });
      const doc = checked(build(incident, events), incident);
      assert.equal(build(incident, events), doc, 'the same input gives the same document');
      // One unit per hero, as their latest assignment stands.
      const latest = new Map(assignments.map((a) => [a.heroId, a]));
      assert.is(doc.emergencyResourceComponent?.length ?? 0, latest.size);
      for (const [heroId, a] of latest) {
        const u = unitOf(doc, heroId)!;
        assert.is(u.primaryUnitStatusRegistryText, a.state === 'active' ? 'NotAvailable' : 'Available');
        const expected = a.state === 'released' ? 'AssignmentCancelled' : a.state === 'completed' ? 'Cleared'
          : ({ assigned: 'Assigned', en_route: 'EnRoute', on_scene: 'OnScene', resolved: 'Cleared' } as const)[a.progress];
        assert.equal(u.secondaryUnitStatusRegistryText, [expected]);
      }
      // Words become notes (blank ones do not), escaped: no markup of theirs survives.
      const said = [description, ...linked].filter((w) => w.trim() !== '');
      assert.is(notes(doc).length, said.length);
      for (const n of notes(doc)) assert.not.match(n, /[<>"']/);
      if (!isFinalState(state)) {
        const active = assignments.filter((a) => a.state === 'active');
        assert.is(statuses(doc)!.includes('ResourcesAssigned'), active.length > 0);
        assert.is(statuses(doc)!.includes('ResourcesOnscene'), active.some((a) => a.progress === 'on_scene'));
      }
    },
  ), { numRuns: 300 });
});

unit('any id gives a valid, distinct tracking identifier', () => {
  fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 80 }), fc.string({ minLength: 1, maxLength: 80 }), (a, b) => {
    assert.match(trackingId(a, AGENCY), /^urn:emergency:uid:incidentid:[A-Za-z0-9]+:eido\.test\.example$/);
    if (a !== b) assert.is.not(urnToken(a), urnToken(b));
  }), { numRuns: 500 });
  assert.is(urnToken(INCIDENT_ID), '0b7c3a525a514e0e9a512f6c3b1f0d77');
  assert.is.not(urnToken('x2d'), urnToken('-'), 'an id starting with x is encoded, so it cannot meet an encoded one');
  assert.is.not(urnToken(INCIDENT_ID.replaceAll('-', '')), urnToken(INCIDENT_ID), 'nor can 32 hex digits meet a UUID');
});

/** xmlbuilder2's DOM node, as much of it as the test reads (the project has no DOM types). */
const element = (n: { node: unknown }) => n.node as { namespaceURI: string | null; textContent: string | null; getAttribute(name: string): string | null };

unit('the location is a well-formed PIDF-LO: a GML point in EPSG 4326, latitude then longitude', () => {
  fc.assert(fc.property(fc.double({ min: -85, max: 85, noNaN: true }), fc.double({ min: -180, max: 180, noNaN: true }), (lat, lng) => {
    const doc = build(view('fire', 'reported', [], { location: { lat, lng } }));
    const root = create(doc.locationComponent![0]!.locationByValue!).root();
    const named = (name: string) => root.find((n) => n.node.nodeName === name, true, true);
    assert.equal([root.node.nodeName, element(root).namespaceURI], ['presence', 'urn:ietf:params:xml:ns:pidf']);
    assert.is(element(named('gp:geopriv')!).namespaceURI, 'urn:ietf:params:xml:ns:pidf:geopriv10');
    const pos = named('gml:pos')!;
    assert.is(element(pos).namespaceURI, 'http://www.opengis.net/gml');
    assert.is(element(pos.up()).getAttribute('srsName'), 'urn:ogc:def:crs:EPSG::4326');
    assert.equal(element(pos).textContent!.split(' ').map(Number), [lat, lng]);
  }), { numRuns: 100 });
});

unit('events past the view\'s version are left out: one consistent moment', () => {
  const incident = view('fire', 'assigned', [member('h1', 0, 'active', 'assigned')], { version: 3 });
  const later: IncidentEventView = { seq: 4, type: 'LINKED', from: 'assigned', to: 'assigned', actor: 'civilian:c9', at: T0 + 9_000, data: { description: 'late words' } };
  assert.equal(build(incident, [...trail, later]), build(incident, trail));
});

unit.run();
