// Every route the server registers, as an onRoute hook sees it: for a 405 (the path
// exists under another method; fastify itself would say 404) and for the test that
// checks each one is in the OpenAPI document.
import type { Server as HttpServer } from 'node:http';
import type { RouteOptions } from 'fastify';

export interface RouteEntry {
  method: string;
  url: string;
  /** Left out of the OpenAPI document on purpose (`schema.hide`). */
  hidden: boolean;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `/v1/incidents/:id` → a regex over raw (still encoded) paths; `*` takes the rest. */
function matcher(url: string): RegExp {
  const parts = url.split('/').map((p) => (p === '*' ? '.*' : p.startsWith(':') ? '[^/]+' : escapeRegex(p)));
  return new RegExp(`^${parts.join('/')}$`);
}

export class RouteTable {
  readonly entries: RouteEntry[] = [];
  private compiled: { method: string; re: RegExp }[] | undefined;

  add(route: RouteOptions): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of methods) this.entries.push({ method, url: route.url, hidden });
    this.compiled = undefined;
  }

  /** The methods some route answers at this raw path (only asked on a 404: no hot path). */
  methodsAt(path: string): string[] {
    this.compiled ??= this.entries.map((e) => ({ method: e.method, re: matcher(e.url) }));
    return [...new Set(this.compiled.filter((c) => c.re.test(path)).map((c) => c.method))];
  }
}

const tables = new WeakMap<HttpServer, RouteTable>();

export function remember(server: HttpServer, table: RouteTable): void {
  tables.set(server, table);
}

/** The routes a running server registered (tests: the OpenAPI coverage check). */
export function registeredRoutes(server: HttpServer): RouteEntry[] {
  return tables.get(server)?.entries ?? [];
}
