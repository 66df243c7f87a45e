// The OpenAPI 3.1 document, generated from the routes' own zod schemas (@fastify/swagger
// with fastify-type-provider-zod's transform) at GET /openapi.json, and its reading UI at
// /docs (swagger-ui, served from node_modules: nothing is loaded from the internet).
// Who may call a route is read from its `config.roles`: said in the description, as an
// `x-roles` extension and as the bearer security requirement.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../../shared/domain.ts';

/**
 * Routes deliberately left out of the document, and why: everything else a server
 * registers must be in it (test/openapi.test.ts checks both ways).
 */
export const UNDOCUMENTED: { exact?: string; prefix?: string; why: string }[] = [
  { exact: '/', why: 'a page (the dispatcher console), not API' },
  { exact: '/report', why: 'a page (the civilian page), not API' },
  { exact: '/hero', why: 'a page (the hero app), not API' },
  { exact: '/favicon.ico', why: 'browsers ask for it; an empty answer' },
  { prefix: '/assets/', why: 'the pages\' scripts, styles and settings' },
  { prefix: '/vendor/', why: 'Leaflet, served to the pages from node_modules' },
  { exact: '/openapi.json', why: 'the document itself' },
  { prefix: '/docs', why: 'the documentation UI (swagger-ui) and its files' },
  { prefix: '/admin/queues', why: 'the operators\' queue view: bull-board\'s pages and its own JSON API, not our contract' },
];

export const isUndocumented = (url: string): boolean =>
  UNDOCUMENTED.some((u) => (u.exact !== undefined ? url === u.exact : url.startsWith(u.prefix!)));

type Transform = Parameters<typeof jsonSchemaTransform>[0];
type Json = Record<string, unknown>;

/** An answer's description is its schema's (a `$ref` alone would read "Default Response"). */
function describeAnswers(zodResponses: Json | undefined, json: Json | undefined): void {
  for (const [status, zod] of Object.entries(zodResponses ?? {})) {
    const description = zod instanceof z.ZodType ? z.globalRegistry.get(zod)?.description : undefined;
    const answer = json?.[status] as Json | undefined;
    if (description && answer && !answer.description) answer.description = description;
  }
}

/** The zod transform, plus who may call the route. */
function transform(input: Transform) {
  if (isUndocumented(input.url)) return { schema: { hide: true }, url: input.url };
  const out = jsonSchemaTransform(input);
  const schema = out.schema as Json | undefined;
  if (!schema || schema.hide) return out;
  describeAnswers((input.schema as Json | undefined)?.response as Json | undefined, schema.response as Json | undefined);
  const roles = (input.route as RouteOptions).config?.roles as readonly Role[] | undefined;
  if (!roles) return out;
  const who = `**Roles:** ${roles.join(', ')} (\`Authorization: Bearer <jwt>\`).`;
  return {
    url: out.url,
    schema: { ...schema, description: schema.description ? `${String(schema.description)}\n\n${who}` : who, 'x-roles': [...roles], security: [{ bearer: [] }] },
  };
}

/** Every `$ref` target in `value`, recursively. */
function refs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) refs(v, into);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') into.add(v.slice(v.lastIndexOf('/') + 1));
      else refs(v, into);
    }
  }
  return into;
}

/**
 * The components, pruned to those the document uses: the zod transform emits an input
 * and an output component for every schema with an id, used or not.
 */
function transformObject(input: Parameters<typeof jsonSchemaTransformObject>[0]): ReturnType<typeof jsonSchemaTransformObject> {
  const doc = jsonSchemaTransformObject(input) as Json & { components?: { schemas?: Record<string, unknown> } };
  const all = doc.components?.schemas ?? {};
  const used = refs(doc.paths, new Set());
  for (let grew = true; grew;) {
    const before = used.size;
    for (const name of [...used]) refs(all[name], used);
    grew = used.size > before;
  }
  const schemas = Object.fromEntries(Object.entries(all).filter(([name]) => used.has(name)));
  return { ...doc, components: { ...doc.components, schemas } } as ReturnType<typeof jsonSchemaTransformObject>;
}

/** Security headers of the docs page: swagger-ui's own scripts and styles only. */
const DOCS_HELMET = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], fontSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"], frameAncestors: ["'none'"],
    },
  },
  xFrameOptions: { action: 'deny' as const },
};

/**
 * Registers the document's collector, at the root (it sees only the routes registered
 * after it, in any scope).
 */
export function collectOpenapi(app: FastifyInstance): void {
  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Superhero Dispatch',
        version: '1.1',
        description: 'The HTTP half of the wire contract (shared/PROTOCOL.md; extensions in the README). Refusals are '
          + '`application/problem+json` documents with a machine-readable `code`. The Socket.IO namespaces are not described here.',
      },
      tags: [
        { name: 'incidents', description: 'Reports, reads, the audit trail and dispatcher overrides.' },
        { name: 'heroes', description: 'The hero registry.' },
        { name: 'admin', description: 'Access to the operators\' pages.' },
        { name: 'health', description: 'Liveness, readiness and metrics.' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 JWT with `sub`, `role` and `exp` (PROTOCOL "Identity").' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'The server\'s METRICS_TOKEN, when it has one.' },
        },
      },
    },
    transform,
    transformObject,
  });
}

/** GET /openapi.json and the UI at /docs; registered last, after every documented route. */
export async function openapiRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.send(app.swagger()));
  await app.register(async (docs) => {
    // Helmet reads a route's own options from `config.helmet`.
    docs.addHook('onRoute', (route) => { route.config = { ...route.config, helmet: DOCS_HELMET } as typeof route.config; });
    // validatorUrl stays null (the default): no badge fetched from validator.swagger.io.
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs' });
  });
}
