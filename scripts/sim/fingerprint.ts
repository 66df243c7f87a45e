// Short digests of what a seed decides (the fleet, each report of the schedule), so two
// runs that claim to meet the same city can show it: `--compare` checks the fleets are
// equal and one run's reports are the other's, in order, as far as the shorter went.
import { createHash } from 'node:crypto';

/** 12 hex characters of the SHA-1 of `x` as JSON. */
export function fingerprint(x: unknown): string {
  return createHash('sha1').update(JSON.stringify(x)).digest('hex').slice(0, 12);
}

export interface CityPrint {
  /** The city's hot spots and every hero's plan (name, mode, skills, personality). */
  fleet: string;
  /** One digest per report, in the order drawn. */
  reports: string[];
}

/** Same fleet, and the reports of one run are the first reports of the other. */
export function sameCity(a: CityPrint, b: CityPrint): { same: boolean; detail: string } {
  if (a.fleet !== b.fleet) return { same: false, detail: `fleets differ (${a.fleet} vs ${b.fleet})` };
  const n = Math.min(a.reports.length, b.reports.length);
  for (let i = 0; i < n; i++) {
    if (a.reports[i] !== b.reports[i]) return { same: false, detail: `report ${i + 1} differs (of ${n} both sent)` };
  }
  if (n === 0) return { same: false, detail: 'no report sent' };
  const extra = Math.abs(a.reports.length - b.reports.length);
  return { same: true, detail: `fleet ${a.fleet}; the ${n} reports both sent are the same${extra ? ` (${extra} more in one run as it stopped)` : ''}` };
}
