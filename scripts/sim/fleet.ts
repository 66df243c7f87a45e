// The heroes as a whole: registration through POST /v1/heroes, staggered connection,
// one clock that moves everybody, and a clean stop. With own streams (`--personalities`
// or `--ranking`), hero i of the plan gets personality i and stream i whatever order the
// registrations come back in, so a seed gives the same fleet every time.
import { ownStreams } from './args.ts';
import type { City } from './city.ts';
import { Hero, type HeroDeps, type Mode } from './heroes.ts';
import { problem } from '../lib/wire.ts';
import { fingerprint } from './fingerprint.ts';
import { http, pool, withRetry } from './http.ts';
import { assignPersonalities, heroRng } from './personality.ts';
import type { Rng } from './rng.ts';
import { teamSkills } from './teams.ts';
import { sleep } from './types.ts';

const FIRST = ['Captain', 'Night', 'Iron', 'Silver', 'Doctor', 'Mighty', 'Shadow', 'Solar', 'Storm', 'Lady', 'Atomic', 'Crimson', 'Quantum', 'Blue', 'Thunder', 'Ghost'];
const LAST = ['Comet', 'Falcon', 'Tide', 'Spark', 'Warden', 'Lynx', 'Bolt', 'Aegis', 'Nova', 'Hammer', 'Specter', 'Wasp', 'Glacier', 'Ember', 'Raven', 'Titan'];
const SKILLS = ['rescue', 'firefighting', 'medical', 'combat', 'strength', 'negotiation', 'hacking', 'water'];
const TICK_MS = 500;

export class Fleet {
  readonly heroes: Hero[] = [];
  /** The fingerprint of the plan (fingerprint.ts): the city's hot spots and every hero's. */
  print = '';
  private ticker: NodeJS.Timeout | null = null;

  constructor(private readonly d: HeroDeps & { dispatcherToken: string; signHero: (id: string) => Promise<string>; city: City; rng: Rng }) {}

  /** Registers `n` heroes (about --air of them flying); returns how many could not be. */
  async register(n: number, giveUpAt: () => number): Promise<number> {
    const { rng, opts, stats } = this.d;
    const plans = Array.from({ length: n }, (_, i) => {
      const mode: Mode = rng.chance(opts.air) ? 'air' : 'ground';
      // With teams on, the skills teams ask for are the commonest (teams.ts).
      const skills = opts.teams > 0 ? teamSkills(rng) : [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.pick(SKILLS)))];
      if (mode === 'air') skills.push('flight');
      return { name: `${rng.pick(FIRST)} ${rng.pick(LAST)} #${i + 1}`, mode, skills };
    });
    const personalities = opts.personalities ? assignPersonalities(n, opts.seed) : null;
    const own = ownStreams(opts);
    this.print = fingerprint({ hotspots: this.d.city.hotspots, plans, personalities: personalities?.map((p) => p.kind) ?? null, own });
    let failed = 0;
    await pool(plans, 16, async (plan, i) => {
      if (performance.now() > giveUpAt()) { failed += 1; return; }
      const res = await withRetry(
        () => http('POST', `${this.d.url}/v1/heroes`, { token: this.d.dispatcherToken, body: plan, timeoutMs: 10_000 }),
        { rng, maxAttempts: 6, giveUpAt },
      );
      const id = (res?.body as { id?: unknown } | null)?.id;
      if (res?.status !== 201 || typeof id !== 'string') {
        failed += 1;
        stats.note('hero registration failed', res ? `HTTP ${res.status} ${problem(res.body)}` : 'no answer');
        return;
      }
      stats.heroes.registered += 1;
      const mine = own ? { index: i, personality: personalities?.[i] ?? null, rng: heroRng(opts.seed, i) } : null;
      this.heroes.push(new Hero(id, plan.name, plan.mode, plan.skills, await this.d.signHero(id), this.d, mine));
    });
    return failed;
  }

  /** Connects everyone in waves and waits (bounded) until most are on duty. */
  async connect(giveUpAt: () => number): Promise<void> {
    this.start();
    for (let i = 0; i < this.heroes.length; i += 50) {
      for (const h of this.heroes.slice(i, i + 50)) h.connect();
      await sleep(50);
    }
    while (performance.now() < giveUpAt() && this.onDuty() < this.heroes.length * 0.98) await sleep(200);
  }

  onDuty(): number {
    let n = 0;
    for (const h of this.heroes) if (h.onDuty && h.connected && h.phase !== 'vanished' && h.phase !== 'stopped') n++;
    return n;
  }

  /** Heroes free to take an offer (Hero.free). */
  free(): number {
    let n = 0;
    for (const h of this.heroes) if (h.free) n++;
    return n;
  }

  byPhase(): Map<string, number> {
    const m = new Map<string, number>();
    for (const h of this.heroes) m.set(h.phase, (m.get(h.phase) ?? 0) + 1);
    return m;
  }

  private start(): void {
    let last = performance.now();
    this.ticker = setInterval(() => {
      const now = performance.now();
      const hours = ((now - last) / 3_600_000) * this.d.opts.speedup;
      last = now;
      for (const h of this.heroes) h.tick(hours);
    }, TICK_MS);
  }

  /** Free heroes go off duty, then every socket closes; bounded by the acks' own deadlines. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await pool(this.heroes, 200, (h) => h.stop());
  }
}
