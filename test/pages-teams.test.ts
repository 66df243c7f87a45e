// Teams on the three pages in headless Chromium (issue 13, PROTOCOL v1.1 "Teams"): a
// two-hero incident (a medic and a rescuer) followed on the console, the civilian page
// and both heroes' apps to `resolved`; and a dispatcher who assigns into a chosen slot
// and releases one member from the console. No page may log a console error.
// Screenshots of the team views go to test/artifacts/ (team-*.png), for a look by eye.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { openAs as open, pageSuite, testid, type PageCtx } from './helpers/browser.ts';
import { http } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { area, east, heroOnline, matchable, registerHero, report } from './helpers/world.ts';

const test = pageSuite('teams on the pages', { DISPATCH_RETRY_MS: 300, OFFER_TIMEOUT_MS: 20_000 });

const SHOTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
mkdirSync(SHOTS, { recursive: true });
const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}team-${name}.png` });

const NEEDS = [{ skill: 'medic', count: 1 }, { skill: 'rescue', count: 1 }];

/** A hero app on duty at `at`, ready to be matched. */
async function heroApp(ctx: PageCtx, name: string, skills: string[], at: { lat: number; lng: number }): Promise<{ id: string; page: Page }> {
  const hero = await registerHero(ctx.server, { name, skills });
  const page = await open(ctx, '/hero', await ctx.server.token('hero', hero.id), 'phone', at);
  await testid(page, 'duty-toggle').click();
  await page.waitForSelector('[data-testid="duty-state"]:has-text("On duty")');
  return { id: hero.id, page };
}

test('a two-hero incident followed on all three pages to resolved', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const medic = await heroApp(ctx, 'Medic Mia', ['medic'], east(center, 0.6));
  const rescuer = await heroApp(ctx, 'Rescue Rex', ['rescue'], east(center, 1.2));
  await matchable(server, [medic, rescuer], 10_000);

  const console = await open(ctx, '/', await server.token('dispatcher', uid('d-')), 'desktop');
  await testid(console, 'connection').waitFor({ state: 'hidden' });
  const civToken = await server.token('civilian', uid('c-'));
  const reported = await report(server, civToken, { kind: 'fire', severity: 'high', location: center, description: 'House fire, one hurt', needs: NEEDS });
  assert.is(reported.status, 201, JSON.stringify(reported.incident));
  const id = reported.incident.id;
  // The civilian page picks up its open incident on connect.
  const civ = await open(ctx, '/report', civToken, 'phone', center);
  await civ.locator(`[data-testid="incident"][data-incident-id="${id}"]`).waitFor();

  // The console: the list shows the slots filled, the detail both slots, still open.
  const row = console.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`);
  await row.locator('[data-testid="team-fill"]:has-text("0/2")').waitFor();
  await row.click();
  const detail = console.locator(`[data-testid="incident-detail"][data-incident-id="${id}"]`);
  const slot = (n: number, more = '') => detail.locator(`[data-testid="slot"][data-slot="${n}"]${more}`);
  await slot(0, '[data-skill="medic"]').waitFor();
  await slot(1, '[data-skill="rescue"]').waitFor();
  assert.match(await slot(0).innerText(), /open/);
  assert.match(await slot(1).innerText(), /open/);

  // Each hero is asked for their own slot's skill.
  const offerOf = (page: Page) => page.locator(`[data-testid="offer"][data-incident-id="${id}"]`);
  await offerOf(medic.page).locator('[data-testid="offer-skill"]:has-text("medic")').waitFor();
  await offerOf(rescuer.page).locator('[data-testid="offer-skill"]:has-text("rescue")').waitFor();
  await shot(rescuer.page, 'hero-offer');

  // The medic accepts first: committed at once, the team shows them and the open slot.
  await offerOf(medic.page).locator('[data-testid="offer-accept"]').click();
  const job = (page: Page) => page.locator(`[data-testid="assignment"][data-incident-id="${id}"]`);
  const member = (page: Page, heroId: string) => job(page).locator(`[data-testid="team-member"][data-hero-id="${heroId}"]`);
  await member(medic.page, medic.id).locator('text=you').waitFor();
  await job(medic.page).locator('[data-testid="team-member"][data-slot="1"]:has-text("open")').waitFor();
  await slot(0, `[data-hero-id="${medic.id}"][data-progress="assigned"]`).waitFor();
  await row.locator('[data-testid="team-fill"]:has-text("1/2")').waitFor();
  await civ.locator('[data-testid="hero-name"]:has-text("Medic Mia")').waitFor();

  // The rescuer completes the team: both slots filled, the team ETA shown.
  await offerOf(rescuer.page).locator('[data-testid="offer-accept"]').click();
  await member(rescuer.page, medic.id).waitFor();
  await member(rescuer.page, rescuer.id).locator('text=you').waitFor();
  await member(medic.page, rescuer.id).waitFor(); // read again by the medic's app
  await slot(1, `[data-hero-id="${rescuer.id}"][data-progress="assigned"]`).waitFor();
  await row.locator('[data-testid="team-fill"]:has-text("2/2")').waitFor();
  await detail.locator('[data-testid="detail-state"]:has-text("assigned")').waitFor();
  await detail.locator('[data-testid="team-eta"]:has-text("Team on scene ≈")').waitFor();
  assert.match(await testid(console, 'team-eta').innerText(), /Team on scene ≈ \d\d:\d\d \(slowest member\)/);
  // The civilian sees both members, each with a distance.
  const civHeroes = civ.locator('[data-testid="heroes"] [data-testid="hero"]');
  await civHeroes.nth(1).waitFor();
  assert.is(await civHeroes.count(), 2);
  for (const h of [medic, rescuer]) assert.match(await civ.locator(`[data-testid="hero"][data-hero-id="${h.id}"]`).innerText(), /away/);
  assert.match(await civ.locator('[data-testid="heroes"]').innerText(), /Medic Mia[\s\S]*Rescue Rex|Rescue Rex[\s\S]*Medic Mia/);
  await Promise.all([shot(console, 'console'), shot(civ, 'civilian'), shot(medic.page, 'hero')]);

  // Each member moves on their own; the incident follows the least advanced one.
  const step = async (hero: { id: string; page: Page }, to: string) => {
    await job(hero.page).locator(`[data-testid="progress-${to}"]`).click();
    if (to !== 'resolved') await job(hero.page).locator(`[data-testid="assignment-state"]:has-text("${to}")`).waitFor();
    await detail.locator(`[data-testid="slot"][data-hero-id="${hero.id}"][data-progress="${to}"]`).waitFor();
  };
  await step(medic, 'en_route');
  assert.is(await detail.locator('[data-testid="detail-state"]').innerText(), 'assigned', 'the rescuer is still only assigned');
  await step(rescuer, 'en_route');
  await detail.locator('[data-testid="detail-state"]:has-text("en_route")').waitFor();
  await civ.locator('[data-testid="incident-state"]:has-text("en_route")').waitFor();
  await row.locator('[data-testid="incident-state"]:has-text("en_route")').waitFor();
  await step(medic, 'on_scene');
  await step(rescuer, 'on_scene');
  await civ.locator('[data-testid="incident-state"]:has-text("on_scene")').waitFor();
  await detail.locator('[data-testid="detail-state"]:has-text("on_scene")').waitFor();

  // The medic is done first: the incident waits for the rescuer.
  await step(medic, 'resolved');
  assert.is(await detail.locator('[data-testid="detail-state"]').innerText(), 'on_scene', 'one member is still on scene');
  await job(medic.page).waitFor({ state: 'detached' });
  await step(rescuer, 'resolved');
  await civ.locator('[data-testid="incident-state"]:has-text("resolved")').waitFor();
  await detail.locator('[data-testid="detail-state"]:has-text("resolved")').waitFor();
  await row.waitFor({ state: 'detached' });
  await job(rescuer.page).waitFor({ state: 'detached' });

  const truth = await http(server, 'GET', `/v1/incidents/${id}`, { token: await server.token('dispatcher', uid('d-')) });
  assert.is(truth.body.state, 'resolved');
  const members = (truth.body.assignments as { heroId: string; slot: number; state: string; progress: string }[])
    .map((a) => [a.slot, a.heroId, a.state, a.progress]).sort();
  assert.equal(members, [[0, medic.id, 'completed', 'resolved'], [1, rescuer.id, 'completed', 'resolved']]);
});

test('a dispatcher assigns into a chosen slot and releases one member', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const console = await open(ctx, '/', await server.token('dispatcher', uid('d-')), 'desktop');
  await testid(console, 'connection').waitFor({ state: 'hidden' });
  const { status, incident } = await report(server, await server.token('civilian', uid('c-')), { kind: 'disaster', severity: 'critical', location: center, description: 'Collapsed shed', needs: NEEDS });
  assert.is(status, 201, JSON.stringify(incident));
  // Beyond automatic dispatch's reach, but a dispatcher can send them.
  const both = await heroOnline(server, center, 70, { skills: ['medic', 'rescue'] });
  const medicOnly = await heroOnline(server, center, 71, { skills: ['medic'] });
  await console.locator(`[data-testid="incident-row"][data-incident-id="${incident.id}"]`).click();
  const detail = console.locator(`[data-testid="incident-detail"][data-incident-id="${incident.id}"]`);
  const assignButton = (heroId: string) => detail.locator(`[data-testid="nearby-hero"][data-hero-id="${heroId}"] [data-testid="assign"]`);

  // The hero who fits both goes into the rescue slot (left alone, the medic slot comes first).
  await assignButton(both.id).waitFor();
  await detail.locator('[data-testid="assign-slot"]').selectOption('1');
  await assignButton(both.id).click();
  await detail.locator(`[data-testid="slot"][data-slot="1"][data-hero-id="${both.id}"]`).waitFor();
  assert.is(await detail.locator('[data-testid="assign-slot"]').inputValue(), '', 'a filled slot is no longer chosen');
  await both.client.next('session', (s) => s.assignment?.incidentId === incident.id);
  // No slot chosen: the first open one that fits.
  await assignButton(medicOnly.id).click();
  await detail.locator(`[data-testid="slot"][data-slot="0"][data-hero-id="${medicOnly.id}"]`).waitFor();
  await console.locator(`[data-testid="incident-row"][data-incident-id="${incident.id}"] [data-testid="team-fill"]:has-text("2/2")`).waitFor();

  // Releasing one member reopens their slot only.
  await detail.locator(`[data-testid="slot"][data-slot="1"] [data-testid="release"]`).click();
  await detail.locator('[data-testid="slot"][data-slot="1"].open').waitFor();
  await both.client.next('assignment:released', (r) => r.incidentId === incident.id);
  assert.ok(await detail.locator(`[data-testid="slot"][data-slot="0"][data-hero-id="${medicOnly.id}"]`).count(), 'the other member keeps their slot');
  const truth = await http(server, 'GET', `/v1/incidents/${incident.id}`, { token: await server.token('dispatcher', uid('d-')) });
  assert.equal(truth.body.slots.map((s: { slot: number; heroId: string | null }) => [s.slot, s.heroId]), [[0, medicOnly.id], [1, null]]);
  both.client.close();
  medicOnly.client.close();
});

test.run();
