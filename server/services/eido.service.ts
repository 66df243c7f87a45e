// One incident's NENA EIDO: loads what the pure builder (standards/eido.builder.ts) needs
// from Postgres, the truth: the incident view, its whole audit trail and its heroes.
import { AppError } from '../errors.ts';
import { getHeroes } from '../store/heroes.store.ts';
import { incidentEvents, incidentView } from '../store/incidents.store.ts';
import type { IncidentEventView } from '../../shared/types.ts';
import { buildEido } from '../standards/eido.builder.ts';
import type { EidoDocument } from '../standards/eido.schema.ts';
import type { ServiceContext } from './context.ts';

/** Audit events read per query while collecting a trail. */
const PAGE = 500;

/** The whole trail, oldest first, page by page (an incident's trail is short; a page bounds each query). */
async function wholeTrail(ctx: ServiceContext, id: string, upTo: number): Promise<IncidentEventView[]> {
  const all: IncidentEventView[] = [];
  for (let after = 0; after < upTo;) {
    const { items, next } = await incidentEvents(ctx.sql, id, { after, limit: PAGE });
    all.push(...items);
    if (next === undefined) break;
    after = next;
  }
  return all;
}

export async function incidentEido(ctx: ServiceContext, id: string): Promise<EidoDocument> {
  const incident = await incidentView(ctx.sql, id);
  if (!incident) throw new AppError('not_found', 'no such incident');
  const heroIds = [...new Set(incident.assignments.map((a) => a.heroId))];
  // The view is read first: the builder drops events after its version, so a change
  // committed between the two reads cannot show half done.
  const [events, heroes] = await Promise.all([wholeTrail(ctx, id, incident.version), getHeroes(ctx.sql, heroIds)]);
  return buildEido({
    incident, events, agencyId: ctx.config.EIDO_AGENCY_ID,
    heroes: heroes.map((h) => ({ id: h.id, name: h.name, skills: h.skills, mode: h.mode })),
  });
}
