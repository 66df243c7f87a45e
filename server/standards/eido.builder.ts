// Builds one incident's NENA EIDO (NENA-STA-021.1b-2022) from what Postgres holds: the
// incident view, its heroes and its audit trail. Pure: the same input gives the same
// document, and every component's `$id` is derived from our ids, so it is the same in
// every EIDO for the incident (§2.1). An EIDO is the incident's current state (§2): the
// trail is read for who changed what last and for the words of linked reports, not
// replayed as history.
import type { HeroMode } from '../../shared/domain.ts';
import type { IncidentEventView, IncidentView } from '../../shared/types.ts';
import {
  AGENCY_TYPE, AGENT_ROLE, agencyRoles, INCIDENT_TYPE, incidentStatuses, PRIORITY, RESOURCE_TYPE, resourceAttributes,
  unitStatus,
} from './eido.mapping.ts';
import type {
  AgentComponent, DispatchComponent, EidoDocument, EmergencyResourceComponent, IncidentComponent, LocationComponent,
  NotesComponent,
} from './eido.schema.ts';

/** A hero as the EIDO names them: their unit's name, attributes and kind. */
export interface EidoHero { id: string; name: string; skills: string[]; mode: HeroMode }

export interface EidoInput {
  incident: IncidentView;
  /** Its audit trail, oldest first; events past `incident.version` are left out (a later read). */
  events: IncidentEventView[];
  /** The heroes of its assignments; one missing is named by its id. */
  heroes: EidoHero[];
  /** Our Agency Identifier, a domain name (config EIDO_AGENCY_ID). */
  agencyId: string;
}

/** The EIDO version this builder writes (§2.4: "MUST be 1.0"). */
export const EIDO_VERSION = '1.0';

/**
 * An id as a URN's "unique string" (alphanumeric, §2.1): a UUID (ours) without its
 * hyphens, another alphanumeric id as it is, anything else hex-encoded behind an `x`.
 * Injective: the three forms cannot meet (32 hex digits, never 32 hex digits nor a
 * leading `x`, a leading `x`).
 */
export function urnToken(id: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return id.replaceAll('-', '');
  if (/^[A-Za-z0-9]+$/.test(id) && !id.startsWith('x') && !/^[0-9a-f]{32}$/i.test(id)) return id;
  return `x${Buffer.from(id, 'utf8').toString('hex')}`;
}

/** NENA-STA-010's Incident Tracking Identifier for one of our incidents. */
export const trackingId = (incidentId: string, agencyId: string): string =>
  `urn:emergency:uid:incidentid:${urnToken(incidentId)}:${agencyId}`;

/** RFC 3339 with an explicit offset: we keep UTC, so `+00:00`. */
export const stamp = (ms: number): string => new Date(ms).toISOString().replace('Z', '+00:00');

const escapeMarkup = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The incident's place as a PIDF-LO (RFC 4119) by value: one geodetic point (RFC 5491
 * §5.2.1), WGS 84 latitude then longitude, `urn:ogc:def:crs:EPSG::4326`.
 */
export function pidfLo(entity: string, at: { lat: number; lng: number }, timestamp: string): string {
  return '<?xml version="1.0" encoding="UTF-8"?>'
    + '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
    + ` xmlns:gml="http://www.opengis.net/gml" entity="${escapeMarkup(entity)}">`
    + '<tuple id="incident"><status><gp:geopriv><gp:location-info>'
    + `<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>${at.lat} ${at.lng}</gml:pos></gml:Point>`
    + '</gp:location-info><gp:usage-rules/></gp:geopriv></status>'
    + `<timestamp>${timestamp}</timestamp></tuple></presence>`;
}

type Ref = { $ref: string };

/** Who acted, as an agent of ours: heroes, dispatchers and our automatons; civilians are not agents. */
function agentOf(actor: string, agencyId: string): { id: string; role: string } | null {
  const [kind, ...rest] = actor.split(':');
  const who = rest.join(':');
  if (kind === 'hero' && who) return { id: `hero-${urnToken(who)}@${agencyId}`, role: AGENT_ROLE.hero };
  if (kind === 'dispatcher' && who) return { id: `dispatcher-${urnToken(who)}@${agencyId}`, role: AGENT_ROLE.dispatcher };
  if (kind === 'system') return { id: `system-${who ? urnToken(who) : 'server'}@${agencyId}`, role: AGENT_ROLE.system };
  return null;
}

/** Whether an audit event changed this member's assignment. */
function touches(e: IncidentEventView, heroId: string, released: boolean): boolean {
  const { heroId: one, heroIds } = e.data as { heroId?: unknown; heroIds?: unknown };
  if (one === heroId) return e.type !== 'ROUND' && e.type !== 'TOP_UP';
  if (Array.isArray(heroIds) && heroIds.includes(heroId)) return true;
  return released && e.type === 'CANCEL';
}

export function buildEido(input: EidoInput): EidoDocument {
  const { incident, agencyId } = input;
  const events = input.events.filter((e) => e.seq <= incident.version);
  const token = urnToken(incident.id);
  const componentId = (kind: string) => `urn:emergency:uid:eidodatacomponent:${kind}${token}:${agencyId}`;
  const agency: Ref = { $ref: agencyId };
  const byAgent = (actor: string | undefined): { updatedByAgentReference?: Ref } => {
    const agent = actor === undefined ? null : agentOf(actor, agencyId);
    return agent ? { updatedByAgentReference: { $ref: agent.id } } : {};
  };
  const lastEvent = events.at(-1);

  // Agents: the heroes of its assignments, then every dispatcher and automaton that acted on it.
  const agents = new Map<string, AgentComponent>();
  const heroes = new Map(input.heroes.map((h) => [h.id, h]));
  const addAgent = (id: string, role: string, at: number, name?: string) => {
    if (agents.has(id)) return;
    agents.set(id, {
      $id: id, lastUpdateTimeStamp: stamp(at), updatedByAgencyReference: agency,
      agentRoleRegistryText: [role], agencyReference: agency,
      // RFC 7095 jCard: the name the console shows.
      ...(name ? { agentJcard: JSON.stringify(['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', name]]]) } : {}),
    });
  };

  // One resource per hero: their latest assignment here.
  const latest = new Map<string, IncidentView['assignments'][number]>();
  for (const a of incident.assignments) latest.set(a.heroId, a);
  const resources: EmergencyResourceComponent[] = [];
  const members = [...latest.values()];
  for (const a of members) {
    const hero = heroes.get(a.heroId);
    const agent = agentOf(`hero:${a.heroId}`, agencyId)!;
    addAgent(agent.id, agent.role, incident.assignments.find((x) => x.heroId === a.heroId)!.assignedAt, hero?.name);
    // From the ASSIGN that made this assignment on: what last changed it, and who did.
    const from = events.filter((e) => e.type === 'ASSIGN' && e.data.heroId === a.heroId).at(-1)?.seq ?? 0;
    const last = events.filter((e) => e.seq >= from && touches(e, a.heroId, a.state === 'released')).at(-1);
    const status = unitStatus(a.state, a.progress);
    resources.push({
      $id: `unit-${urnToken(a.heroId)}@${agencyId}`,
      lastUpdateTimeStamp: stamp(Math.max(a.assignedAt, last?.at ?? 0)),
      updatedByAgencyReference: agency,
      ...byAgent(last?.actor),
      emergencyResourceTypeCommonRegistryText: RESOURCE_TYPE,
      emergencyResourceTypeInternalText: hero ? `hero (${hero.mode})` : 'hero',
      emergencyResourceName: hero?.name ?? a.heroId,
      resourceAttributeRegistryText: resourceAttributes(hero?.skills ?? []),
      primaryUnitStatusRegistryText: status.primary,
      secondaryUnitStatusRegistryText: status.secondary,
      unitStatusInternal: status.internal,
      agentReference: [{ $ref: agent.id }],
    });
  }
  for (const e of events) {
    const agent = agentOf(e.actor, agencyId);
    if (agent && !e.actor.startsWith('hero:')) addAgent(agent.id, agent.role, e.at);
  }

  // Notes: the first report's words, then each linked report's, as HTML-escaped text (§2.15).
  const notes: NotesComponent[] = [];
  const reported = events.find((e) => e.type === 'REPORTED');
  const words: { seq: number; at: number; text: string }[] = [
    { seq: reported?.seq ?? 1, at: reported?.at ?? incident.createdAt, text: incident.description },
    ...events.filter((e) => e.type === 'LINKED')
      .map((e) => ({ seq: e.seq, at: e.at, text: typeof e.data.description === 'string' ? e.data.description : '' })),
  ];
  for (const w of words) {
    if (w.text.trim() === '') continue;
    notes.push({
      $id: componentId(`note${w.seq}x`), lastUpdateTimeStamp: stamp(w.at), updatedByAgencyReference: agency,
      notesActionComments: escapeMarkup(w.text),
    });
  }

  const location: LocationComponent = {
    $id: componentId('loc'), lastUpdateTimeStamp: stamp(incident.createdAt), updatedByAgencyReference: agency,
    locationTypeDescriptionRegistryText: 'CurrentIncident',
    locationByValue: pidfLo(`pres:incident-${token}@${agencyId}`, incident.location, stamp(incident.createdAt)),
  };

  const type = INCIDENT_TYPE[incident.kind];
  const active = incident.assignments.filter((a) => a.state === 'active').map((a) => a.progress);
  const incidentPart: IncidentComponent = {
    $id: componentId('inc'), lastUpdateTimeStamp: stamp(incident.updatedAt), updatedByAgencyReference: agency,
    ...byAgent(lastEvent?.actor),
    incidentTypeCommonRegistryText: type.code,
    incidentTypeInternalCode: incident.kind,
    incidentTypeInternalText: type.text,
    incidentStatusCommonRegistryText: incidentStatuses(incident.state, active),
    incidentStatusInternalText: [incident.state],
    internalIncidentId: incident.id,
    incidentPriorityInternalText: incident.severity,
    incidentCommonPriorityNumber: PRIORITY[incident.severity],
    locationReference: [{ $ref: location.$id }],
    ...(notes.length ? { notesReference: notes.map((n) => ({ $ref: n.$id })) } : {}),
    ...(agents.size ? { agentReference: [...agents.keys()].map(($ref) => ({ $ref })) } : {}),
  };

  // Dispatch: our agency sent these resources; its agent is whoever made the last
  // assignment by hand, or else the automaton that offered the incident.
  const dispatch: DispatchComponent[] = [];
  if (resources.length) {
    const byHand = events.filter((e) => e.type === 'ASSIGN' && e.actor.startsWith('dispatcher:')).at(-1);
    const rounds = events.filter((e) => e.type === 'ROUND' || e.type === 'TOP_UP').at(-1);
    const dispatcher = agentOf((byHand ?? rounds)?.actor ?? '', agencyId);
    const changed = events.filter((e) => ['ASSIGN', 'RELEASE', 'CANCEL'].includes(e.type)).at(-1);
    dispatch.push({
      $id: componentId('dsp'),
      lastUpdateTimeStamp: stamp(Math.max(...members.map((a) => a.assignedAt), changed?.at ?? 0)),
      updatedByAgencyReference: agency,
      ...byAgent(changed?.actor),
      agencyReference: agency,
      ...(dispatcher ? { agentReference: { $ref: dispatcher.id } } : {}),
      emergencyResourceReference: resources.map((r) => ({ $ref: r.$id })),
    });
  }

  const agencyPart = {
    $id: agencyId, lastUpdateTimeStamp: stamp(agencyChangedAt(incident, members)),
    updatedByAgencyReference: agency,
    agencyRoleDescriptionRegistryText: agencyRoles(members.length > 0),
    agencyType: [...AGENCY_TYPE],
    incidentOwningAgencyIndicator: true,
  };

  const stamps = [incident.updatedAt, ...events.map((e) => e.at)];
  return {
    $id: trackingId(incident.id, agencyId),
    lastUpdateTimeStamp: stamp(Math.max(...stamps)),
    updatedByAgencyReference: agency,
    ...byAgent(lastEvent?.actor),
    eidoVersion: EIDO_VERSION,
    issuingElementIdentification: `cad.${agencyId}`,
    incidentComponent: incidentPart,
    ...(dispatch.length ? { dispatchComponent: dispatch } : {}),
    ...(resources.length ? { emergencyResourceComponent: resources } : {}),
    agencyComponent: [agencyPart],
    ...(agents.size ? { agentComponent: [...agents.values()] } : {}),
    locationComponent: [location],
    ...(notes.length ? { notesComponent: notes } : {}),
  };
}

/** The agency component changes once: when it first dispatches a hero (it becomes `Dispatched`). */
function agencyChangedAt(incident: IncidentView, members: IncidentView['assignments']): number {
  return members.length ? Math.min(...members.map((a) => a.assignedAt)) : incident.createdAt;
}
