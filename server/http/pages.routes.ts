// The three faces, served by the server itself: the dispatcher console at `/`, the
// civilian page at `/report`, the hero app at `/hero`, their assets, and Leaflet from
// node_modules. Nothing is fetched from the internet.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.ts';
import type { HttpResponse, Router } from './router.ts';

const PAGES = fileURLToPath(new URL('../pages/', import.meta.url));
const LEAFLET = fileURLToPath(new URL('../../node_modules/leaflet/dist/', import.meta.url));
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml', png: 'image/png', json: 'application/json', map: 'application/json',
};
// Only plain file names: no path can climb out of the folders above.
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]*\.(html|js|css|svg|png|map)$/i;

async function file(dir: string, name: string): Promise<HttpResponse> {
  if (!SAFE_NAME.test(name)) throw new AppError('not_found', 'no such file');
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  try {
    const body = await readFile(dir + name);
    return { status: 200, raw: body, headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-cache' } };
  } catch {
    throw new AppError('not_found', 'no such file');
  }
}

export function pageRoutes(router: Router, opts: { tilesUrl: string | undefined }): void {
  router.add('GET', '/', () => file(PAGES, 'dispatcher.html'));
  router.add('GET', '/report', () => file(PAGES, 'civilian.html'));
  router.add('GET', '/hero', () => file(PAGES, 'hero.html'));
  // Browsers ask for it unprompted; an empty answer keeps their consoles clean.
  router.add('GET', '/favicon.ico', () => ({ status: 204 }));
  // Before `/assets/:name`: the first matching route wins.
  router.add('GET', '/assets/config.json', () => ({ status: 200, body: { tilesUrl: opts.tilesUrl ?? null } }));
  router.add('GET', '/assets/:name', (req) => file(`${PAGES}assets/`, req.params.name!));
  router.add('GET', '/vendor/leaflet/:name', (req) => file(LEAFLET, req.params.name!));
  router.add('GET', '/vendor/leaflet/images/:name', (req) => file(`${LEAFLET}images/`, req.params.name!));
}
