// Command line of `npm run simulate`. Every option is validated; a bad one stops with usage.
import type { LatLng } from './types.ts';

export interface SimOptions {
  url: string;
  heroes: number;
  ratePerMin: number;
  minutes: number;
  accept: number;
  decline: number;
  ignore: number;
  vanish: number;
  air: number;
  cityKm: number;
  center: LatLng;
  seed: string;
  speedup: number;
  secret: string | null;
  drainS: number;
  checkMax: number;
  /** Share of reports that need a team (several heroes with their skills). */
  teams: number;
  /** `--burst`: one neighbourhood reporting at many times the run's rate for a while. */
  burst: BurstOptions | null;
  /**
   * `--ranking`: the simulator starts its own server (fresh schema) ranking this way,
   * instead of using --url. Null: the server at --url, ranking however it was started.
   */
  ranking: 'learned' | 'distance' | null;
  /** `--compare`: a distance run, then a learned run, on the same seed, side by side. */
  compare: boolean;
  /** `--model FILE`: RANKING_MODEL_PATH for the server it starts. */
  model: string | null;
  /** `--keep`: leave the server's schema (offers, assignments) for `npm run train`. */
  keep: boolean;
  /** Heroes with personalities (personality.ts); on by default with --ranking or --compare. */
  personalities: boolean;
  /** Minutes of reporting before the measured --minutes: heroes build up an answer history. */
  warmupMin: number;
  /** `--json FILE`: the ranking section and the checks, as JSON (what --compare reads). */
  json: string | null;
}

/**
 * Own seeded streams for the civilians and for each hero: the report schedule and the
 * fleet no longer depend on how the heroes' answers interleave with the reports, so two
 * runs of a seed against differently ranking servers meet the same city. Off for plain
 * runs, whose seeds keep drawing what they always drew.
 */
export function ownStreams(o: Pick<SimOptions, 'personalities' | 'ranking'>): boolean {
  return o.personalities || o.ranking !== null;
}

export interface BurstOptions {
  /** Seconds after the civilians start reporting. */
  atS: number;
  seconds: number;
  ratePerMin: number;
  /** Side of the neighbourhood's square. */
  km: number;
  /** Its centre; null: the city's first hot spot. */
  spot: LatLng | null;
}

export const USAGE = `usage: npm run simulate -- [options]
  --url URL            dispatch server (default http://127.0.0.1:3000)
  --heroes N           heroes to register and put on duty (default 100)
  --rate R[/min|/s|/h] civilian reports per minute (default 60/min)
  --minutes M          hard stop after M minutes (default 10)
  --accept P --decline P --ignore P
                       how heroes answer offers (default 0.8 / 0.1 / 0.1, normalised)
  --vanish P           chance a hero vanishes mid-rescue, for good (default 0.02)
  --air P              share of air heroes (default 0.2)
  --city-km K          side of the square city in km (default 12)
  --center LAT,LNG     city centre (default 40.75,-73.98)
  --seed S             any string; reproduces city, heroes and report mix (default random)
  --speedup X          compress travel and rescue times (default 1)
  --secret S           JWT secret (default JWT_SECRET / the server's config default)
  --drain S            seconds heroes keep working after the last report (default 5)
  --check-max N        reports to verify one by one at the end (default 5000; a sample above)
  --teams P            share of reports that need a team, e.g. fire + medic or 4× rescue (default 0)
  --burst              a neighbourhood burst mid-run: civilians in one small square report at
                       50× --rate, 10% critical, honour Retry-After and give up 30 s after their
                       first attempt; the report gains a burst section and its checks
  --burst-at T         when: P% of --minutes or N seconds after reporting starts (default 50%)
  --burst-seconds N    how long it lasts (default 20)
  --burst-rate R       its report rate, written as --rate (default 50× --rate)
  --burst-km K         side of the neighbourhood's square in km (default 1.5)
  --burst-spot LAT,LNG its centre, inside the city (default the city's first hot spot)
                       (any --burst-* option implies --burst; the burst must end before --minutes)
  learned ranking (issue 16):
  --ranking MODE       learned | distance: start a server of our own (npm start, a fresh schema,
                       RANKING_MODE=MODE, this environment otherwise) instead of using --url
  --model FILE         its RANKING_MODEL_PATH (default the server's, server/ranking/model.json)
  --compare            a distance run, then a learned run, same seed and options, side by side
  --personalities[=on|off]
                       heroes of a documented mix: reliable, picky, slow to answer, slow drivers,
                       ghosts (on by default with --ranking and --compare; they replace --accept,
                       --decline and --ignore); each hero and the civilians draw from streams of
                       their own, so a seed gives the same city, fleet and report schedule
  --warmup M           report for M minutes before the measured --minutes, so heroes have an
                       answer history; the ranking section leaves those incidents out (default 0)
  --keep               keep the schema of the server we started (for npm run train); else dropped
  --json FILE          write the ranking section and the checks as JSON`;

class UsageError extends Error {}

/** Options without a value. */
const FLAGS = ['burst', 'compare', 'keep'];
/** Options with an optional `=on|off`. */
const SWITCHES = ['personalities'];
const RANKINGS = ['learned', 'distance'] as const;
const BURST_KEYS = ['burst-at', 'burst-seconds', 'burst-rate', 'burst-km', 'burst-spot'];
/** The issue's burst: 50× the run's rate. */
const BURST_FACTOR = 50;

function num(name: string, raw: string, min: number, max = Number.POSITIVE_INFINITY): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new UsageError(`--${name}: expected a number in [${min}, ${max}], got "${raw}"`);
  return v;
}

function rate(raw: string, name = 'rate'): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(?:\/\s*(min|m|s|sec|h|hour))?\s*$/.exec(raw);
  if (!m) throw new UsageError(`--${name}: expected R, R/min, R/s or R/h, got "${raw}"`);
  const v = Number(m[1]);
  const unit = m[2] ?? 'min';
  const perMin = unit.startsWith('s') ? v * 60 : unit.startsWith('h') ? v / 60 : v;
  if (perMin <= 0 || perMin > 100_000) throw new UsageError(`--${name}: ${perMin}/min is out of range`);
  return perMin;
}

function center(raw: string, name = 'center'): LatLng {
  const [a, b, ...rest] = raw.split(',').map((s) => Number(s.trim()));
  if (a === undefined || b === undefined || rest.length || !Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a) > 85 || Math.abs(b) > 180) {
    throw new UsageError(`--${name}: expected lat,lng, got "${raw}"`);
  }
  return { lat: a, lng: b };
}

export function parseArgs(argv: string[]): SimOptions {
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    if (SWITCHES.includes(a.slice(2, eq > 0 ? eq : undefined))) {
      const v = eq > 0 ? a.slice(eq + 1) : 'on';
      if (v !== 'on' && v !== 'off') throw new UsageError(`${a.slice(0, eq)}: expected on or off, got "${v}"`);
      raw.set(a.slice(2, eq > 0 ? eq : undefined), v);
      continue;
    }
    if (FLAGS.includes(a.slice(2, eq > 0 ? eq : undefined))) {
      if (eq > 0) throw new UsageError(`${a.slice(0, eq)} takes no value`);
      raw.set(a.slice(2), 'on');
      continue;
    }
    if (eq > 0) raw.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      raw.set(a.slice(2), v);
      i++;
    }
  }
  const known = ['url', 'heroes', 'rate', 'minutes', 'accept', 'decline', 'ignore', 'vanish', 'air', 'city-km', 'center', 'seed', 'speedup', 'secret', 'drain', 'check-max', 'teams',
    'ranking', 'model', 'warmup', 'json', ...FLAGS, ...SWITCHES, ...BURST_KEYS];
  const unknown = [...raw.keys()].filter((k) => !known.includes(k));
  if (unknown.length) throw new UsageError(`unknown option(s): ${unknown.map((k) => `--${k}`).join(', ')}`);
  const get = (k: string) => raw.get(k);
  const url = (get('url') ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url: expected http(s)://host[:port], got "${url}"`);
  let accept = num('accept', get('accept') ?? '0.8', 0, 1);
  let decline = num('decline', get('decline') ?? '0.1', 0, 1);
  let ignore = num('ignore', get('ignore') ?? '0.1', 0, 1);
  // Give the remainder to the ones left unset, then normalise whatever was said.
  const setKeys = ['accept', 'decline', 'ignore'].filter((k) => raw.has(k));
  if (setKeys.length > 0 && setKeys.length < 3) {
    const rest = Math.max(0, 1 - setKeys.reduce((s, k) => s + ({ accept, decline, ignore } as Record<string, number>)[k]!, 0));
    const unset = ['accept', 'decline', 'ignore'].filter((k) => !raw.has(k));
    if (unset.includes('accept')) accept = rest / unset.length;
    if (unset.includes('decline')) decline = rest / unset.length;
    if (unset.includes('ignore')) ignore = rest / unset.length;
  }
  const sum = accept + decline + ignore;
  if (sum <= 0) throw new UsageError('--accept, --decline and --ignore cannot all be 0');
  const ratePerMin = rate(get('rate') ?? '60');
  const minutes = num('minutes', get('minutes') ?? '10', 0.05, 24 * 60);
  const cityKm = num('city-km', get('city-km') ?? '12', 0.5, 200);
  const ranking = get('ranking') ?? null;
  if (ranking !== null && !(RANKINGS as readonly string[]).includes(ranking)) throw new UsageError(`--ranking: expected learned or distance, got "${ranking}"`);
  const compare = raw.has('compare');
  if (compare && ranking !== null) throw new UsageError('--compare runs both rankings; leave --ranking out');
  const ownServer = compare || ranking !== null;
  if (ownServer && raw.has('url')) throw new UsageError(`--${compare ? 'compare' : 'ranking'} starts a server of its own; leave --url out (or run against --url with --personalities)`);
  for (const k of ['model', 'keep'] as const) {
    if (raw.has(k) && !ownServer) throw new UsageError(`--${k} is for the server the simulator starts: give --ranking or --compare`);
  }
  if (raw.has('model') && ranking === 'distance') throw new UsageError('--model is for --ranking learned (or --compare)');
  return {
    url,
    heroes: Math.round(num('heroes', get('heroes') ?? '100', 1, 50_000)),
    ratePerMin,
    minutes,
    accept: accept / sum,
    decline: decline / sum,
    ignore: ignore / sum,
    vanish: num('vanish', get('vanish') ?? '0.02', 0, 1),
    air: num('air', get('air') ?? '0.2', 0, 1),
    cityKm,
    center: center(get('center') ?? '40.75,-73.98'),
    seed: get('seed') ?? String(Math.floor(Math.random() * 1e9)),
    speedup: num('speedup', get('speedup') ?? '1', 0.1, 100),
    secret: get('secret') ?? null,
    drainS: num('drain', get('drain') ?? '5', 0, 600),
    checkMax: Math.round(num('check-max', get('check-max') ?? '5000', 1, 1_000_000)),
    teams: num('teams', get('teams') ?? '0', 0, 1),
    burst: burstOptions(raw, { minutes, ratePerMin, cityKm }),
    ranking: ranking as SimOptions['ranking'],
    compare,
    model: get('model') ?? null,
    keep: raw.has('keep'),
    personalities: raw.has('personalities') ? raw.get('personalities') === 'on' : ownServer,
    warmupMin: num('warmup', get('warmup') ?? '0', 0, 24 * 60),
    json: get('json') ?? null,
  };
}

/** The burst, when asked for by `--burst` or any `--burst-*`; it must fit in the run. */
function burstOptions(raw: Map<string, string>, run: { minutes: number; ratePerMin: number; cityKm: number }): BurstOptions | null {
  if (!raw.has('burst') && !BURST_KEYS.some((k) => raw.has(k))) return null;
  const runS = run.minutes * 60;
  const at = raw.get('burst-at') ?? '50%';
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(%|s)?\s*$/.exec(at);
  if (!m) throw new UsageError(`--burst-at: expected P% of the run or N seconds, got "${at}"`);
  const atS = m[2] === '%' ? (Number(m[1]) / 100) * runS : Number(m[1]);
  const seconds = num('burst-seconds', raw.get('burst-seconds') ?? '20', 1, 3_600);
  if (atS + seconds > runS) {
    throw new UsageError(`the burst (at ${atS.toFixed(1)} s, for ${seconds} s) must end before the run does (--minutes ${run.minutes}: ${runS.toFixed(1)} s)`);
  }
  const ratePerMin = raw.has('burst-rate') ? rate(raw.get('burst-rate')!, 'burst-rate') : Math.min(100_000, run.ratePerMin * BURST_FACTOR);
  const km = num('burst-km', raw.get('burst-km') ?? '1.5', 0.1, run.cityKm);
  const spotRaw = raw.get('burst-spot');
  return { atS, seconds, ratePerMin, km, spot: spotRaw === undefined ? null : center(spotRaw, 'burst-spot') };
}

export function parseArgsOrExit(argv: string[]): SimOptions {
  try {
    return parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`simulate: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
}
