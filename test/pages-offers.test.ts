// "Why this hero" on the dispatcher console (issue 16), in headless Chromium: with a
// model in force, an incident's detail lists its offers with the hero's rank, P(accept),
// ETA and the model's top reasons in words; without one, an offer says "nearest by ETA
// (no model …)". No console error, no CSP violation, nothing fetched from elsewhere.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { FEATURE_NAMES } from '../server/ranking/features.ts';
import { parseModel } from '../server/ranking/model.ts';
import { addOfferOutcome } from '../server/store/hero-stats.store.ts';
import { originPage, pageSuite } from './helpers/browser.ts';
import { uid, type TestServer } from './helpers/server.ts';
import { area, closeAll, heroOnline, matchable, report } from './helpers/world.ts';

// A model that reads only the accept rate (see ranking-server.test.ts).
const path = join(mkdtempSync(join(tmpdir(), 'pages-offers-')), 'model.json');
const zeros = () => FEATURE_NAMES.map(() => 0);
const weights = zeros();
weights[FEATURE_NAMES.indexOf('accept_rate')] = 4;
const trainedAt = new Date().toISOString();
const model = {
  version: 'pages-offers-model', trainedAt, features: [...FEATURE_NAMES],
  acceptance: { intercept: -1.677, weights, mean: zeros(), std: FEATURE_NAMES.map(() => 1) },
  eta: { ground: { intercept: 0, weights: zeros() }, air: { intercept: 0, weights: zeros() } },
  metrics: { acceptance: { auc: 0.9, logLoss: 0.3, calibration: [], n: 100 }, eta: { maeS: 10, physicsMaeS: 20, n: 10 }, split: { trainUntil: trainedAt, testFrom: trainedAt } },
};
parseModel(model);
writeFileSync(path, JSON.stringify(model));

const test = pageSuite('why this hero, on the console', {
  RANKING_MODE: 'learned', RANKING_MODEL_PATH: path, RANKING_EXPLORATION_SHARE: 0, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000,
});

/** Browser code as text (this project compiles without the DOM types): the offers the detail lists. */
const shown = (page: import('playwright-core').Page) => page.evaluate(`[...document.querySelectorAll('[data-testid="offer-why"]')].map((li) => ({
  heroId: li.dataset.heroId, rank: li.dataset.rank ?? null, ranked: li.dataset.ranked, text: li.innerText,
  reasons: [...li.querySelectorAll('.offer-reasons li')].map((r) => r.textContent),
}))`) as Promise<{ heroId: string; rank: string | null; ranked: string; text: string; reasons: string[] }[]>;

async function offeredIncident(server: TestServer, at: { lat: number; lng: number }): Promise<string> {
  const { status, incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'fire', severity: 'medium', location: at, description: 'smoke from a shed' });
  assert.is(status, 201);
  return incident.id as string;
}

/** The console, on a dispatcher's token, with the incident open until its hero's "why" is shown. */
async function openWhy(ctx: Parameters<Parameters<typeof test>[1]>[0], id: string, heroId: string) {
  const { server } = ctx;
  const watched = await originPage(ctx.browser, server.url);
  ctx.pages.push(watched);
  const { page } = watched;
  await page.goto(`${server.url}/#token=${await server.token('dispatcher', uid('d-'))}`, { waitUntil: 'domcontentloaded' });
  await page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`).click();
  const detail = page.locator(`[data-testid="incident-detail"][data-incident-id="${id}"]`);
  await detail.locator(`[data-testid="offer-why"][data-hero-id="${heroId}"]`).waitFor();
  return watched;
}

test('an offered incident shows why its hero was asked: rank, P(accept), ETA and the reasons in words', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const hero = await heroOnline(server, center, 0.6);
  for (let i = 0; i < 9; i++) await addOfferOutcome(server.app.sql, { heroId: hero.id, at: Date.now() - 3_600_000, outcome: 'accepted', answerMs: 3_000 });
  await addOfferOutcome(server.app.sql, { heroId: hero.id, at: Date.now() - 3_600_000, outcome: 'declined', answerMs: 3_000 });
  await matchable(server, [hero]);
  const id = await offeredIncident(server, center);
  await hero.client.next('offer', (o) => o.incident.id === id);

  const watched = await openWhy(ctx, id, hero.id);
  const { page } = watched;
  const [offer, ...more] = await shown(page);
  assert.is(more.length, 0);
  assert.equal([offer!.heroId, offer!.rank, offer!.ranked], [hero.id, '1', 'model']);
  assert.match(offer!.text, hero.name);
  assert.match(offer!.text, /#1 · P\(accept\) \d+% · ETA /);
  assert.ok(offer!.reasons.some((r) => r.startsWith('accepts often (9 of 10 offers in 7 days)')), JSON.stringify(offer!.reasons));
  assert.ok(offer!.reasons.some((r) => /^(close|far): 0\.6 km by ground, arrives in ~/.test(r)), JSON.stringify(offer!.reasons));
  assert.equal(await watched.violations(), [], 'CSP violations');
  assert.equal(watched.elsewhere, [], 'requests left the server');
  closeAll(hero);
});

test.run();

// Without a model (the default RANKING_MODE=distance), every offer says the ETA order made it.
const fallback = pageSuite('why this hero, without a model', { DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 });

fallback('an offer the ETA order made says so: nearest by ETA (no model)', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const id = await offeredIncident(server, center);
  await hero.client.next('offer', (o) => o.incident.id === id);

  const watched = await openWhy(ctx, id, hero.id);
  const { page } = watched;
  const [offer] = await shown(page);
  assert.equal([offer!.heroId, offer!.rank, offer!.ranked], [hero.id, '1', 'eta']);
  assert.ok(!/P\(accept\)/.test(offer!.text), offer!.text);
  assert.equal(offer!.reasons, ['nearest by ETA (no model: RANKING_MODE=distance)']);
  assert.equal(await watched.violations(), [], 'CSP violations');
  closeAll(hero);
});

fallback.run();
