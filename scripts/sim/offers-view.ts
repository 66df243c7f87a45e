// The learned ETA the server gave each offer, for the ranking section's ETA error: read
// after the run from the dispatcher's `GET /v1/incidents/:id/offers` (issue 16), for the
// incidents a hero reached from an offer. A server without that route, or whose offers
// carry no score (ranked by distance), gives nothing, and the report says so.
import type { ArrivalRecord } from './ranking-stats.ts';
import { http, pool } from './http.ts';

/** At most this many incidents are read (a sample of the arrivals beyond). */
const MAX_INCIDENTS = 2_000;

interface OfferView { id?: unknown; offerId?: unknown; score?: { etaS?: unknown } | null; modelVersion?: unknown }

/** Offer id → the learned ETA in seconds, from one answer of the route (any of its known spellings). */
export function etasOf(body: unknown): Map<string, number> | null {
  const items = (body as { items?: unknown } | null)?.items ?? (body as { offers?: unknown } | null)?.offers;
  if (!Array.isArray(items)) return null;
  const out = new Map<string, number>();
  for (const o of items as OfferView[]) {
    const id = typeof o?.offerId === 'string' ? o.offerId : typeof o?.id === 'string' ? o.id : null;
    const eta = o?.score && typeof o.score === 'object' ? o.score.etaS : undefined;
    if (id && typeof eta === 'number' && Number.isFinite(eta) && eta > 0 && o.modelVersion !== null) out.set(id, eta);
  }
  return out;
}

export async function learnedEtas(url: string, token: string, arrivals: readonly ArrivalRecord[], o: { giveUpAt: number }): Promise<Map<string, number> | undefined> {
  const ids = [...new Set(arrivals.map((a) => a.incidentId))].slice(0, MAX_INCIDENTS);
  if (ids.length === 0) return undefined;
  const read = async (id: string) => {
    const res = await http('GET', `${url}/v1/incidents/${encodeURIComponent(id)}/offers`, { token, timeoutMs: 5_000 });
    return res.status === 200 ? etasOf(res.body) : null;
  };
  const first = await read(ids[0]!);
  if (first === null) return undefined; // no such route here
  const all = new Map(first);
  await pool(ids.slice(1), 8, async (id) => {
    if (performance.now() > o.giveUpAt) return;
    const got = await read(id).catch(() => null);
    for (const [k, v] of got ?? []) all.set(k, v);
  });
  return all.size ? all : undefined;
}
