// The three faces in headless Debian Chromium, used the way people use them: a civilian
// reports on /report, a hero accepts on /hero, the dispatcher console at / follows it,
// and all three agree to the end. No page may log a console error.
// UPDATE_SCREENSHOTS=1 writes the README's screenshots to server/pages/screenshots/.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { openAs as open, openPage, pageSuite, testid } from './helpers/browser.ts';
import { http } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { area, east, heroOnline, matchable, registerHero, report } from './helpers/world.ts';

const SHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../server/pages/screenshots/' : './artifacts/', import.meta.url));
mkdirSync(SHOTS, { recursive: true });

const test = pageSuite('pages in Chromium', { DISPATCH_RETRY_MS: 300, OFFER_TIMEOUT_MS: 20_000 });

test('report on /report → accept on /hero → followed on / → resolved, all three agree', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const hero = await registerHero(server, { name: 'Captain Test' });
  const heroPage = await open(ctx, '/hero', await server.token('hero', hero.id), 'phone', east(center, 0.6));
  await testid(heroPage, 'duty-toggle').click();
  await heroPage.waitForSelector('[data-testid="duty-state"]:has-text("On duty")');
  await matchable(server, [hero], 10_000);

  const console = await open(ctx, '/', await server.token('dispatcher', uid('d-')), 'desktop');
  const civPage = await open(ctx, '/report', await server.token('civilian', uid('c-')), 'phone', center);
  await testid(civPage, 'use-location').click();
  await civPage.selectOption('select[name=kind]', 'fire');
  await civPage.selectOption('select[name=severity]', 'high');
  await civPage.fill('textarea[name=description]', 'Smoke from a bakery');
  await testid(civPage, 'submit').click();
  const incidentId = await testid(civPage, 'incident').getAttribute('data-incident-id');
  assert.ok(incidentId, 'the civilian page follows the new incident');

  const offer = heroPage.locator(`[data-testid="offer"][data-incident-id="${incidentId}"]`);
  await offer.waitFor();
  await shot(heroPage, 'hero-offer');
  await offer.locator('[data-testid="offer-accept"]').click();
  const assignment = heroPage.locator(`[data-testid="assignment"][data-incident-id="${incidentId}"]`);
  await assignment.locator('[data-testid="assignment-state"]:has-text("assigned")').waitFor();

  // The console shows it assigned on the map and in the list; the civilian sees the hero.
  await console.locator(`[data-testid="map-incidents"] [data-incident-id="${incidentId}"][data-state="assigned"]`).waitFor({ state: 'attached' });
  const row = console.locator(`[data-testid="incident-row"][data-incident-id="${incidentId}"]`);
  await row.locator('[data-testid="incident-state"]:has-text("assigned")').waitFor();
  await civPage.locator('[data-testid="incident-state"]:has-text("assigned")').waitFor();
  await civPage.locator('[data-testid="hero-name"]:has-text("Captain Test")').waitFor();
  // Heroes are coloured by status on the map: the hero shows as assigned within a batch.
  await console.locator(`[data-testid="map-heroes"] [data-hero-id="${hero.id}"][data-status="assigned"]`).waitFor({ state: 'attached' });
  await row.click();
  await console.locator(`[data-testid="incident-detail"][data-incident-id="${incidentId}"]`).waitFor();
  await shot(console, 'dispatcher');
  await shot(civPage, 'civilian');

  for (const step of ['en_route', 'on_scene'] as const) {
    await assignment.locator(`[data-testid="progress-${step}"]`).click();
    await assignment.locator(`[data-testid="assignment-state"]:has-text("${step}")`).waitFor();
    await civPage.locator(`[data-testid="incident-state"]:has-text("${step}")`).waitFor();
    await row.locator(`[data-testid="incident-state"]:has-text("${step}")`).waitFor();
  }
  await shot(heroPage, 'hero');
  await assignment.locator('[data-testid="progress-resolved"]').click();
  await civPage.locator('[data-testid="incident-state"]:has-text("resolved")').waitFor();
  await row.waitFor({ state: 'detached' }); // final incidents leave the open list
  await assignment.waitFor({ state: 'detached' });
  const truth = await http(server, 'GET', `/v1/incidents/${incidentId}`, { token: await server.token('dispatcher', uid('d-')) });
  assert.is(truth.body.state, 'resolved');
  assert.equal(truth.body.assignments.map((a: { heroId: string; state: string }) => [a.heroId, a.state]), [[hero.id, 'completed']]);
});

test('a dispatcher assigns by hand from the console', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const console = await open(ctx, '/', await server.token('dispatcher', uid('d-')), 'desktop');
  await testid(console, 'connection').waitFor({ state: 'hidden' });
  const civ = await server.token('civilian', uid('c-'));
  const { incident } = await report(server, civ, { kind: 'disaster', severity: 'critical', location: center, description: 'Bridge collapse' });
  // Nobody in range: the console raises the alert and marks the incident escalated.
  await console.locator('[data-testid="alert"][data-type="no_hero_found"]').first().waitFor();
  await console.locator(`[data-testid="map-incidents"] [data-incident-id="${incident.id}"][data-state="escalated"]`).waitFor({ state: 'attached' });
  // Beyond automatic dispatch's reach, but a dispatcher can send them.
  const far = await heroOnline(server, center, 70);
  await console.locator(`[data-testid="incident-row"][data-incident-id="${incident.id}"]`).click();
  const detail = console.locator(`[data-testid="incident-detail"][data-incident-id="${incident.id}"]`);
  await detail.locator(`[data-testid="nearby-hero"][data-hero-id="${far.id}"] [data-testid="assign"]`).click();
  await console.locator(`[data-testid="map-incidents"] [data-incident-id="${incident.id}"][data-state="assigned"]`).waitFor({ state: 'attached' });
  const session = await far.client.next('session', (s) => s.assignment?.incidentId === incident.id);
  assert.is(session.assignment.incident.state, 'assigned');
  far.client.close();
});

test('a hero page that loses its connection says so and recovers its assignment', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const hero = await registerHero(server, { name: 'Flaky Signal' });
  const watched = await openPage(ctx.browser, `${server.url}/hero#token=${await server.token('hero', hero.id)}`, 'phone', { geolocation: { latitude: center.lat, longitude: center.lng + 0.004 } });
  ctx.pages.push(watched);
  const heroPage = watched.page;
  await testid(heroPage, 'duty-toggle').click();
  await heroPage.waitForSelector('[data-testid="duty-state"]:has-text("On duty")');
  await matchable(server, [hero], 10_000);
  const { incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'medical', severity: 'high', location: center });
  await heroPage.locator(`[data-testid="offer"][data-incident-id="${incident.id}"] [data-testid="offer-accept"]`).click();
  await heroPage.locator(`[data-testid="assignment"][data-incident-id="${incident.id}"]`).waitFor();

  // The network goes away: new connections fail and the live one is cut.
  const offlineFrom = watched.errors.length;
  await watched.context.setOffline(true);
  for (const s of await server.app.io.of('/hero').in(`hero:${hero.id}`).fetchSockets()) {
    (server.app.io.of('/hero').sockets.get(s.id))?.conn.close();
  }
  await testid(heroPage, 'connection').waitFor({ state: 'visible' });
  await shot(heroPage, 'hero-offline');
  await watched.context.setOffline(false);
  await testid(heroPage, 'connection').waitFor({ state: 'hidden', timeout: 15_000 });
  // Reconnection failures while offline are the browser's, not the page's; only those
  // logged in the offline window are forgiven, and any other error there still counts.
  const whileOffline = watched.errors.splice(offlineFrom);
  watched.errors.push(...whileOffline.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/i.test(e)));
  const assignment = heroPage.locator(`[data-testid="assignment"][data-incident-id="${incident.id}"]`);
  await assignment.locator('[data-testid="assignment-state"]:has-text("assigned")').waitFor();
  await assignment.locator('[data-testid="progress-en_route"]').click();
  await assignment.locator('[data-testid="assignment-state"]:has-text("en_route")').waitFor();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: false });
}

test.run();
