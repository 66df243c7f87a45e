// The three faces, served by the server itself: the dispatcher console at `/`, the
// civilian page at `/report`, the hero app at `/hero`, their assets, and Leaflet from
// node_modules. Nothing is fetched from the internet but map tiles, when configured.
// Pages carry a Content-Security-Policy (through helmet) that allows only our own
// scripts, styles and sockets (and images from the tile server), and may not be framed.
// None of this is API: these routes are left out of the OpenAPI document.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { vocabularyModule } from '../../shared/vocabulary.ts';
import { AppError } from '../errors.ts';

const PAGES = fileURLToPath(new URL('../pages/', import.meta.url));
const ASSETS = `${PAGES}assets/`;
// Wherever the package is installed (from the sources or from a build in dist/).
const LEAFLET = `${dirname(createRequire(import.meta.url).resolve('leaflet/package.json'))}/dist/`;
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml', png: 'image/png', json: 'application/json', map: 'application/json',
};
// Only plain file names: no path can climb out of the folders above.
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]*\.(html|js|css|svg|png|map)$/i;

/**
 * The `scheme://host[:port]` a tile URL template loads from, as a CSP source, or null
 * when it has none we can state. A `{s}` subdomain placeholder becomes `*.`.
 */
export function tilesOrigin(template: string | undefined): string | null {
  const m = /^(https?):\/\/([^/?#]+)/i.exec(template ?? '');
  if (!m) return null;
  const host = m[2]!.replace(/^\{[a-z0-9_-]+\}\./i, '*.');
  return /^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i.test(host) ? `${m[1]!.toLowerCase()}://${host.toLowerCase()}` : null;
}

/** Helmet's options for a page. `'self'` covers the page's own ws:/wss: in current browsers. */
export function pageHelmet(tilesUrl: string | undefined) {
  const tiles = tilesOrigin(tilesUrl);
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:', ...(tiles ? [tiles] : [])],
        connectSrc: ["'self'"], fontSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"], frameAncestors: ["'none'"],
      },
    },
    xFrameOptions: { action: 'deny' as const },
  };
}

const hidden = { hide: true };

export const staticRoutes = (opts: { tilesUrl: string | undefined }) => async (app: FastifyInstance) => {
  // In this plugin's scope only: the queue view brings its own copy of @fastify/static.
  await app.register(fastifyStatic, {
    root: PAGES, serve: false, cacheControl: false, acceptRanges: false,
    // Our names, our types; revalidated on every load (ETag), never cached stale.
    setHeaders: (reply, path) => {
      reply.header('content-type', TYPES[path.slice(path.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream');
      reply.header('cache-control', 'no-cache');
    },
  });
  const file = (reply: FastifyReply, dir: string, name: string) => {
    if (!SAFE_NAME.test(name)) throw new AppError('not_found', 'no such file');
    return reply.sendFile(name, dir);
  };
  const page = { schema: hidden, helmet: pageHelmet(opts.tilesUrl) };
  app.get('/', page, (_req, reply) => file(reply, PAGES, 'dispatcher.html'));
  app.get('/report', page, (_req, reply) => file(reply, PAGES, 'civilian.html'));
  app.get('/hero', page, (_req, reply) => file(reply, PAGES, 'hero.html'));
  // Browsers ask for it unprompted; an empty answer keeps their consoles clean.
  app.get('/favicon.ico', { schema: hidden }, (_req, reply) => reply.code(204).send());
  // Static routes win over `/assets/:name` in fastify's router, whatever the order.
  const config = JSON.stringify({ tilesUrl: opts.tilesUrl ?? null });
  app.get('/assets/config.json', { schema: hidden }, (_req, reply) => reply.type('application/json').send(config));
  const vocabulary = vocabularyModule();
  app.get('/assets/vocabulary.js', { schema: hidden }, (_req, reply) => reply.type(TYPES.js!).header('cache-control', 'no-cache').send(vocabulary));
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: hidden }, (req, reply) => file(reply, ASSETS, req.params.name));
  app.get<{ Params: { name: string } }>('/vendor/leaflet/:name', { schema: hidden }, (req, reply) => file(reply, LEAFLET, req.params.name));
  app.get<{ Params: { name: string } }>('/vendor/leaflet/images/:name', { schema: hidden }, (req, reply) => file(reply, `${LEAFLET}images/`, req.params.name));
};
