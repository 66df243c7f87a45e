// The dispatcher console shows an incident's reports: how many, and each one's
// severity and words, from the trail's REPORTED and LINKED events.
import * as assert from 'uvu/assert';
import { openPage, pageSuite } from './helpers/browser.ts';
import { uid } from './helpers/server.ts';
import { area, east, report } from './helpers/world.ts';

const test = pageSuite('linked reports in the console', { DEDUPE_RADIUS_M: 100, DISPATCH_RETRY_MS: 600_000, ESCALATED_RETRY_MS: 600_000 });

test('the detail panel lists both reports of a linked incident', async (ctx) => {
  const { server } = ctx;
  const center = area();
  const first = await report(server, await server.token('civilian', uid('a-')), { kind: 'medical', severity: 'low', location: center, description: 'sprained ankle' });
  const second = await report(server, await server.token('civilian', uid('b-')), { kind: 'medical', severity: 'critical', location: east(center, 0.033), description: 'cardiac arrest' });
  assert.equal([first.status, second.status], [201, 200]);
  const id = first.incident.id;

  const watched = await openPage(ctx.browser, `${server.url}/#token=${await server.token('dispatcher', uid('d-'))}`, 'desktop');
  ctx.pages.push(watched);
  const page = watched.page;
  await page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`).click();
  const detail = page.locator(`[data-testid="incident-detail"][data-incident-id="${id}"]`);
  await detail.locator('[data-testid="detail-reports"]:has-text("2")').waitFor();
  const items = detail.locator('[data-testid="reports"] li');
  await items.nth(1).waitFor();
  assert.is(await items.count(), 2);
  assert.equal([await items.nth(0).getAttribute('data-severity'), await items.nth(1).getAttribute('data-severity')], ['low', 'critical']);
  assert.match(await items.nth(0).innerText(), /sprained ankle/);
  assert.match(await items.nth(1).innerText(), /cardiac arrest/);
});

test.run();
