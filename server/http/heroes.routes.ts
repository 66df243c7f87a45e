// /v1/heroes: dispatchers register heroes; a hero or a dispatcher reads one.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../errors.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { createHero, getHero, toHeroView } from '../store/heroes.store.ts';
import { problems } from './problem.ts';
import { heroBody, heroParams, heroView } from './schemas.ts';

export const heroRoutes = (d: { ctx: ServiceContext; positions: HeroPositions }): FastifyPluginAsyncZod => async (app) => {
  app.post('/v1/heroes', {
    config: { roles: ['dispatcher'] },
    schema: {
      tags: ['heroes'], summary: 'Register a hero',
      body: heroBody,
      response: { 201: heroView, ...problems(400, 401, 403, 413, 429, 503) },
    },
  }, async (req, reply) => {
    const hero = await createHero(d.ctx.sql, req.body);
    d.ctx.log.info({ heroId: hero.id }, 'hero registered');
    return reply.code(201).header('location', `/v1/heroes/${hero.id}`).send(toHeroView(hero));
  });

  app.get('/v1/heroes/:id', {
    config: { roles: ['dispatcher', 'hero'] },
    schema: {
      tags: ['heroes'], summary: 'Read a hero', description: 'A hero may read only their own record.',
      params: heroParams,
      response: { 200: heroView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (req) => {
    const who = req.claims;
    const { id } = req.params;
    if (!(who.role === 'dispatcher' || who.sub === id)) throw new AppError('forbidden', 'not your record');
    const hero = await getHero(d.ctx.sql, id);
    if (!hero) throw new AppError('not_found', 'no such hero');
    const live = (await d.positions.live([id]).catch(() => new Map())).get(id) ?? {};
    return toHeroView(hero, live);
  });
};
