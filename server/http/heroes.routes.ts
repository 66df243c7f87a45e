// /v1/heroes: dispatchers register heroes; a hero or a dispatcher reads one.
import { createHeroSchema } from '../../shared/schemas.ts';
import { requireRole, type Auth } from '../auth.ts';
import { AppError } from '../errors.ts';
import type { HeroPositions } from '../geo/positions.redis.ts';
import type { ServiceContext } from '../services/context.ts';
import { createHero, getHero, toHeroView } from '../store/heroes.store.ts';
import { body, identify } from './parse.ts';
import type { Router } from './router.ts';

export function heroRoutes(router: Router, d: { ctx: ServiceContext; auth: Auth; positions: HeroPositions }): void {
  router.add('POST', '/v1/heroes', async (req) => {
    requireRole(await identify(d.auth, req), 'dispatcher');
    const hero = await createHero(d.ctx.sql, await body(req, createHeroSchema));
    d.ctx.log.info({ heroId: hero.id }, 'hero registered');
    return { status: 201, body: toHeroView(hero), headers: { location: `/v1/heroes/${hero.id}` } };
  });

  router.add('GET', '/v1/heroes/:id', async (req) => {
    const who = await identify(d.auth, req);
    const id = req.params.id!;
    if (!(who.role === 'dispatcher' || (who.role === 'hero' && who.sub === id))) throw new AppError('forbidden', 'not your record');
    const hero = await getHero(d.ctx.sql, id);
    if (!hero) throw new AppError('not_found', 'no such hero');
    const live = (await d.positions.live([id]).catch(() => new Map())).get(id) ?? {};
    return { status: 200, body: toHeroView(hero, live) };
  });
}
