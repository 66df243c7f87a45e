// The console's replay of an incident (issue 15) in headless Chromium: a real incident
// taken through the hero socket by a hero who moves while on it, replayed from
// GET /v1/incidents/:id/timeline. Moved with the keyboard only, the slider carries the
// hero's replay marker along the breadcrumbs and shows, at each moment, the state the
// server computed by replaying the trail through the machine; the offer shows while it
// is out, with its outcome. No console error, no CSP violation.
import type { Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { originPage, pageSuite, testid } from './helpers/browser.ts';
import { eventually, http, sleep } from './helpers/clients.ts';
import { uid } from './helpers/server.ts';
import { area, east, heroOnline, matchable, report } from './helpers/world.ts';

// Breadcrumbs written every 100 ms (the test waits for each), kept by the 50 m rule.
const test = pageSuite('the incident replay on the console', {
  DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000, OFFER_TIMEOUT_MS: 30_000, BREADCRUMB_FLUSH_MS: 100, BREADCRUMB_EVERY_MS: 600_000,
});

/** What the replay shows at the slider's moment, read in one go from the page. */
interface Moment {
  value: number; max: number; at: number; state: string; valuetext: string;
  marker: { shown: string; lat: number | null; lng: number | null } | null;
  offers: { heroId: string; outcome: string }[];
}

/** The `data-testid` of the element that has the focus. */
const focused = (page: Page) => page.evaluate('document.activeElement?.dataset.testid ?? null') as Promise<string | null>;

async function moment(page: Page, heroId: string): Promise<Moment> {
  // Browser code as text: this project compiles without the DOM types.
  return page.evaluate(`(() => {
    const q = (s) => document.querySelector(s);
    const slider = q('[data-testid="replay-slider"]');
    const row = q('[data-testid="replay-marker"][data-hero-id="${heroId}"]');
    return {
      value: Number(slider.value), max: Number(slider.max), at: Number(q('[data-testid="replay-time"]').dataset.at),
      state: q('[data-testid="replay-state"]').textContent, valuetext: slider.getAttribute('aria-valuetext'),
      marker: row ? { shown: row.dataset.shown, lat: row.dataset.lat ? Number(row.dataset.lat) : null, lng: row.dataset.lng ? Number(row.dataset.lng) : null } : null,
      offers: [...document.querySelectorAll('[data-testid="replay-offer"]')].map((li) => ({ heroId: li.dataset.heroId, outcome: li.dataset.outcome })),
    };
  })()`) as Promise<Moment>;
}

test('the slider, moved by keyboard, moves the hero along the breadcrumbs and shows the state at each moment', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const dispatcher = await server.token('dispatcher', uid('d-'));
  const hero = await heroOnline(server, center, 0.5);
  await matchable(server, [hero]);
  const reported = await report(server, await server.token('civilian', uid('c-')), { kind: 'medical', severity: 'high', location: center, description: 'fell from a ladder' });
  assert.is(reported.status, 201, JSON.stringify(reported.incident));
  const id = reported.incident.id;

  const timeline = async () => {
    const res = await http(server, 'GET', `/v1/incidents/${id}/timeline`, { token: dispatcher });
    assert.is(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const crumbs = async () => (await timeline()).members.find((m: any) => m.heroId === hero.id)?.breadcrumbs ?? [];
  /** Pings a point `km` east of the incident and waits, bounded, until it is kept as a breadcrumb. */
  const moveTo = async (km: number) => {
    const at = east(center, km);
    hero.client.socket.emit('location', at);
    await eventually(`breadcrumb at ${km} km`, async () => (await crumbs()).some((c: any) => Math.abs(c.lat - at.lat) < 1e-9 && Math.abs(c.lng - at.lng) < 1e-9), 10_000);
  };

  // The offer stays out a moment (so the replay has it out for a few of its steps), then the hero takes it.
  const offer = await hero.client.next('offer', (o) => o.incident.id === id);
  await sleep(600);
  assert.equal(await hero.client.ask('offer:accept', { offerId: offer.offerId }), { ok: true, incidentId: id });
  // Positions 100 m apart (the sampler keeps one every 50 m), while assigned, en route and on scene.
  await moveTo(0.4);
  await moveTo(0.3);
  assert.equal(await hero.client.ask('incident:progress', { incidentId: id, state: 'en_route' }), { ok: true, state: 'en_route' });
  await moveTo(0.2);
  await moveTo(0.1);
  assert.equal(await hero.client.ask('incident:progress', { incidentId: id, state: 'on_scene' }), { ok: true, state: 'on_scene' });
  const tl = await timeline();
  const track = tl.members.find((m: any) => m.heroId === hero.id).breadcrumbs;
  assert.ok(track.length >= 2, `breadcrumbs: ${JSON.stringify(track)}`);
  const last = track.at(-1);

  // The console: open the incident, then the replay, from the keyboard.
  const watched = await originPage(ctx.browser, server.url);
  ctx.pages.push(watched);
  const page = watched.page;
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${server.url}/#token=${dispatcher}`, { waitUntil: 'domcontentloaded' });
  await testid(page, 'connection').waitFor({ state: 'hidden' });
  const row = page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`);
  await row.focus();
  await row.press('Enter');
  const detail = page.locator(`[data-testid="incident-detail"][data-incident-id="${id}"]`);
  await detail.locator('[data-testid="detail-state"]:has-text("on_scene")').waitFor();
  await testid(page, 'replay-toggle').focus();
  await testid(page, 'replay-toggle').press('Enter');
  await page.locator('[data-testid="replay"][data-ready="true"]').waitFor();
  const slider = testid(page, 'replay-slider');
  assert.is(await focused(page), 'replay-slider', 'the slider has the focus once loaded');
  assert.is(await slider.getAttribute('aria-describedby'), 'replay-help');
  assert.is(await page.locator('label[for="replay-slider"]').innerText(), 'Replay time');

  // Home: the report, before any breadcrumb: no marker.
  await slider.press('Home');
  const first = await moment(page, hero.id);
  assert.is(first.value, 0);
  assert.is(first.state, tl.events[0].state);
  assert.is(first.marker?.shown, 'false', 'no marker before the first breadcrumb');
  assert.is(await page.locator('.leaflet-replay-pane path.replay-marker').count(), 0);

  // Step through with the arrow key, one step at a time, to the end (bounded by the steps there are).
  const seen: Moment[] = [first];
  for (let i = 0; i < first.max + 2 && seen.at(-1)!.value < first.max; i++) {
    await slider.press('ArrowRight');
    seen.push(await moment(page, hero.id));
  }
  const end = seen.at(-1)!;
  assert.is(end.value, end.max, 'the arrow keys reach the end');
  // At every moment the state is that of the last event at or before it, as the endpoint replayed it.
  for (const m of seen) {
    const inForce = tl.events.filter((e: any) => e.at <= m.at).at(-1);
    assert.is(m.state, inForce?.state ?? '—', `state at ${m.at}`);
    assert.match(m.valuetext, new RegExp(`^\\d\\d:\\d\\d:\\d\\d, ${m.state}$`));
  }
  const states = seen.map((m) => m.state).filter((s, i, all) => s !== all[i - 1]);
  for (const s of ['assigned', 'en_route', 'on_scene']) assert.ok(states.includes(s), `${s} shown; states shown: ${states.join(' → ')}`);
  assert.ok(states.indexOf('assigned') < states.indexOf('en_route') && states.indexOf('en_route') < states.indexOf('on_scene'), states.join(' → '));
  // The offer was out for a while and is listed with how it ended.
  assert.ok(seen.some((m) => m.offers.some((o) => o.heroId === hero.id && o.outcome === 'accepted')), 'the offer is shown out, with its outcome');
  assert.ok(seen.some((m) => m.state === 'assigned' && m.offers.length === 0), 'no offer out once it was accepted');

  // The marker moves: where it first appears is not where it ends, which is the last breadcrumb.
  const shown = seen.filter((m) => m.marker?.shown === 'true');
  assert.ok(shown.length >= 2, 'the marker is shown once there is a breadcrumb');
  const firstShown = shown[0]!.marker!;
  assert.equal([end.marker!.lat, end.marker!.lng], [last.lat, last.lng], 'at the end, the marker is at the last breadcrumb');
  assert.ok(firstShown.lat !== end.marker!.lat || firstShown.lng !== end.marker!.lng, `the marker moved: ${JSON.stringify([firstShown, end.marker])}`);
  const positions = new Set(shown.map((m) => `${m.marker!.lat},${m.marker!.lng}`));
  assert.ok(positions.size >= 3, `the marker passes through several positions (${positions.size})`);
  assert.is(end.state, 'on_scene');

  // Home and End jump back and forth; the map has the marker and the track while replaying.
  await slider.press('Home');
  assert.is((await moment(page, hero.id)).marker?.shown, 'false');
  await slider.press('End');
  const again = await moment(page, hero.id);
  assert.equal([again.state, again.marker?.lat, again.marker?.lng], ['on_scene', last.lat, last.lng]);
  assert.is(await page.locator('.leaflet-replay-pane path.replay-marker').count(), 1);
  assert.is(await page.locator('.leaflet-replay-pane path.replay-track').count(), 1);

  // Escape closes the replay and takes its layers off the map; focus goes back to the toggle.
  await slider.press('Escape');
  await testid(page, 'replay').waitFor({ state: 'hidden' });
  assert.is(await page.locator('.leaflet-replay-pane path').count(), 0);
  assert.is(await testid(page, 'replay-markers').locator('li').count(), 0);
  assert.is(await focused(page), 'replay-toggle', 'focus back on the toggle');

  // Closing the incident closes its replay too.
  await testid(page, 'replay-toggle').press('Enter');
  await page.locator('[data-testid="replay"][data-ready="true"]').waitFor();
  await page.locator('.leaflet-replay-pane path.replay-track').waitFor({ state: 'attached' });
  await detail.locator('button.close').click();
  await page.locator('.leaflet-replay-pane path').first().waitFor({ state: 'detached' });
  assert.ok(await testid(page, 'replay').isHidden());

  assert.equal(await watched.violations(), [], 'CSP violations');
  assert.equal(watched.elsewhere, [], 'requests to other origins');
  hero.client.close();
});

test.run();
