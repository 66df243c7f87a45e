// "Why this hero" in the console's incident detail (issue 16): the incident's offers, as
// GET /v1/incidents/:id/offers explains them, each with its rank, P(accept), ETA and
// the top reasons in words; an offer today's ETA order made says "nearest by ETA (no
// model)". Read again whenever the incident changes (a round, an accept).
import { api, problemText, el, text, fmtKm, labelOf } from '/assets/common.js';

const pct = (p) => `${Math.round(p * 100)}%`;
const duration = (s) => (s < 60 ? `${Math.max(0, Math.round(s))} s` : `${(s / 60).toFixed(1)} min`);

/** What an offer made before rankings were stored says (they were all ranked by ETA). */
const NO_MODEL = 'nearest by ETA (no model)';

export class OffersPanel {
  /** @param {{ token: () => string, heroName: (id: string) => string }} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.req = 0;
    this.id = null;
    this.status = el('p', { class: 'muted offers-status', 'aria-live': 'polite' });
    this.list = el('ol', { class: 'offers-why', 'data-testid': 'offers-why', 'aria-label': 'Offers, and why each hero was asked' });
    this.root = el('div', { class: 'offers-panel' }, el('h3', {}, 'Offers: why this hero'), this.status, this.list);
  }

  clear() {
    this.id = null;
    this.req += 1;
    this.list.replaceChildren();
    text(this.status, '');
  }

  /** Reads the incident's offers (again) and shows them. */
  async load(id) {
    if (this.id !== id) { this.list.replaceChildren(); this.id = id; }
    const req = ++this.req;
    if (!this.list.children.length) text(this.status, 'Loading the offers…');
    const res = await api(this.ctx.token(), 'GET', `/v1/incidents/${encodeURIComponent(id)}/offers`);
    if (req !== this.req || this.id !== id) return;
    if (!res.ok || !res.body || !Array.isArray(res.body.offers)) {
      text(this.status, `Could not load the offers: ${problemText(res)}`);
      return;
    }
    const { offers, truncated } = res.body;
    text(this.status, offers.length ? (truncated ? `The first ${offers.length} offers.` : '') : 'No offer made yet.');
    this.list.replaceChildren(...offers.map((o) => this.item(o)));
  }

  item(o) {
    const learned = o.modelVersion !== null && o.score !== null;
    const name = o.heroName ?? this.ctx.heroName(o.heroId);
    const facts = [
      o.rank !== null ? `#${o.rank}` : null,
      learned ? `P(accept) ${pct(o.score.pAccept)}` : null,
      learned ? `ETA ${duration(o.score.etaS)}` : o.physicsEtaS !== null ? `ETA ${duration(o.physicsEtaS)}` : null,
      fmtKm(o.distanceKm),
      `round ${o.round}`,
    ].filter(Boolean).join(' · ');
    // The model's top reasons, or why the fallback ranked ("nearest by ETA (no model …)").
    const reasons = o.why.length ? o.why : [NO_MODEL];
    return el('li', {
      'data-testid': 'offer-why', class: `offer-why o-${o.state}${o.explored ? ' explored' : ''}`,
      dataset: { heroId: o.heroId, state: o.state, ranked: learned ? 'model' : 'eta', ...(o.rank !== null ? { rank: String(o.rank) } : {}) },
    },
    el('div', { class: 'offer-head' },
      el('strong', {}, name), ' ',
      el('span', { class: `offer-state s-${o.state}` }, labelOf('offerStates', o.state)),
      o.explored ? el('span', { class: 'explored-badge', title: 'Asked at random among lower-ranked heroes, so that nobody is starved of offers' }, 'explored') : ''),
    el('div', { class: 'offer-facts muted' }, facts),
    el('ul', { class: 'offer-reasons', 'aria-label': `Why ${name}` }, ...reasons.map((w) => el('li', {}, w))));
  }
}
