// GET /v1/incidents/:id/eido: one incident as a NENA EIDO (NENA-STA-021.1b-2022), for
// dispatchers handing an incident to another agency's system. The document's schema is
// the zod one the tests check it with (standards/eido.schema.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ServiceContext } from '../services/context.ts';
import { incidentEido } from '../services/eido.service.ts';
import { buildEido } from '../standards/eido.builder.ts';
import { eidoDocument } from '../standards/eido.schema.ts';
import { problems } from './problem.ts';
import { incidentParams } from './schemas.ts';

// ---- example: real output of the builder -----------------------------------------------

const AT = 1_760_000_000_000;
const HERO_ID = 'b2f4c6d8-0a1b-4c3d-9e8f-7a6b5c4d3e2f';
const EXAMPLE = buildEido({
  agencyId: 'dispatch.superhero.example',
  incident: {
    id: '0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77', kind: 'fire', severity: 'high', state: 'en_route', location: { lat: 52.52, lng: 13.405 },
    description: 'smoke from a roof', needs: [{ skill: 'fire', count: 1 }], reportedBy: 'civ-42',
    assignments: [{ heroId: HERO_ID, skill: 'fire', state: 'active', assignedAt: AT + 9_000, slot: 0, progress: 'en_route' }],
    slots: [{ slot: 0, skill: 'fire', heroId: HERO_ID }], teamEtaAt: AT + 309_000, reports: 1, version: 5, createdAt: AT, updatedAt: AT + 20_000,
  },
  events: [
    { seq: 1, type: 'REPORTED', from: null, to: 'reported', actor: 'civilian:civ-42', at: AT, data: {} },
    { seq: 2, type: 'ROUND', from: 'reported', to: 'dispatching', actor: 'system:dispatch', at: AT + 40, data: { offered: [HERO_ID], radiusKm: 2 } },
    { seq: 3, type: 'ASSIGN', from: 'dispatching', to: 'assigned', actor: `hero:${HERO_ID}`, at: AT + 9_000, data: { heroId: HERO_ID, slot: 0, by: 'hero' } },
    { seq: 4, type: 'EN_ROUTE', from: 'assigned', to: 'en_route', actor: `hero:${HERO_ID}`, at: AT + 20_000, data: { heroId: HERO_ID } },
  ],
  heroes: [{ id: HERO_ID, name: 'Captain Blaze', skills: ['fire', 'rescue'], mode: 'air' }],
});

const eidoAnswer = eidoDocument.meta({
  id: 'EIDO',
  description: 'An Emergency Incident Data Object (NENA-STA-021.1b-2022): the incident, its location as a PIDF-LO, its notes, '
    + 'our agency, and each hero as an emergency resource with its status. Its `$id` is the Incident Tracking Identifier.',
  examples: [EXAMPLE],
});

export const standardsRoutes = (d: { ctx: ServiceContext }): FastifyPluginAsyncZod => async (app) => {
  app.get('/v1/incidents/:id/eido', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags: ['incidents'], summary: 'Export an incident as a NENA EIDO',
      description: 'The incident\'s current state as an EIDO JSON document (NENA-STA-021.1b-2022, `eidoVersion` 1.0); '
        + 'how our kinds, states and progress map to EIDO registry values is in the README.',
      params: incidentParams,
      response: { 200: eidoAnswer, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (req, reply) => reply.type('application/json').send(await incidentEido(d.ctx, req.params.id)));
};
