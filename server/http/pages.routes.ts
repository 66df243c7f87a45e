// The three faces, served by the server itself: the dispatcher console at `/`, the
// civilian page at `/report`, the hero app at `/hero`, their assets, and Leaflet from
// node_modules. Nothing is fetched from the internet but map tiles, when configured.
// Pages carry a Content-Security-Policy that allows only our own scripts, styles and
// sockets (and images from the tile server), and may not be framed.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { vocabularyModule } from '../../shared/vocabulary.ts';
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

/** The policy of every page. `'self'` covers the page's own ws:/wss: in current browsers. */
export function contentSecurityPolicy(tilesUrl: string | undefined): string {
  const tiles = tilesOrigin(tilesUrl);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles ? ` ${tiles}` : ''}`,
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

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
  const pageHeaders = { 'content-security-policy': contentSecurityPolicy(opts.tilesUrl), 'x-frame-options': 'DENY' };
  const page = async (name: string): Promise<HttpResponse> => {
    const res = await file(PAGES, name);
    return { ...res, headers: { ...res.headers, ...pageHeaders } };
  };
  router.add('GET', '/', () => page('dispatcher.html'));
  router.add('GET', '/report', () => page('civilian.html'));
  router.add('GET', '/hero', () => page('hero.html'));
  // Browsers ask for it unprompted; an empty answer keeps their consoles clean.
  router.add('GET', '/favicon.ico', () => ({ status: 204 }));
  // Before `/assets/:name`: the first matching route wins.
  router.add('GET', '/assets/config.json', () => ({ status: 200, body: { tilesUrl: opts.tilesUrl ?? null } }));
  router.add('GET', '/assets/vocabulary.js', () => ({
    status: 200, raw: Buffer.from(vocabularyModule()), headers: { 'content-type': TYPES.js!, 'cache-control': 'no-cache' },
  }));
  router.add('GET', '/assets/:name', (req) => file(`${PAGES}assets/`, req.params.name!));
  router.add('GET', '/vendor/leaflet/:name', (req) => file(LEAFLET, req.params.name!));
  router.add('GET', '/vendor/leaflet/images/:name', (req) => file(`${LEAFLET}images/`, req.params.name!));
}
