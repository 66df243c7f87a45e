// What a public alert says, in words and CAP values, for each trigger: a burst of
// critical incidents, a dispatcher's warning, and the all-clear that cancels either.
// Pure: the same input gives the same text. Nothing a civilian wrote is repeated to the
// public (their words may name people or be wrong); only kinds, counts and places are.
import type { IncidentKind, Severity } from '../../shared/domain.ts';
import type { CapInfo } from './cap.builder.ts';
import type { BurstSummary } from './cap.burst.ts';
import {
  CATEGORY_OF_KIND, CERTAINTY_OF_TRIGGER, EVENT_OF_KIND, INSTRUCTION_OF_KIND, SEVERITY_OF_SEVERITY, URGENCY_OF_SEVERITY,
} from './cap.mapping.ts';

const place = (lat: number, lng: number) => `${lat.toFixed(4)}, ${lng.toFixed(4)}`;
const km = (r: number) => `${Number(r.toFixed(2))} km`;
const areaDesc = (lat: number, lng: number, radiusKm: number) => `Within ${km(radiusKm)} of ${place(lat, lng)}`;

const BURST_INSTRUCTION = 'Avoid the area and keep roads clear for emergency services. If you are in danger, call for help.';

/** A burst: always critical incidents, so Immediate and Extreme. */
export function burstInfo(s: BurstSummary): CapInfo {
  const kinds = Object.entries(s.kinds) as [IncidentKind, number][];
  const categories = [...new Set(kinds.map(([k]) => CATEGORY_OF_KIND[k]))];
  const single = kinds.length === 1 ? kinds[0]![0] : null;
  const what = kinds.map(([k, n]) => `${n} ${EVENT_OF_KIND[k].toLowerCase()}`).join(', ');
  return {
    categories,
    event: single ? EVENT_OF_KIND[single] : 'Multiple emergencies',
    responseType: 'Avoid',
    urgency: URGENCY_OF_SEVERITY.critical,
    severity: SEVERITY_OF_SEVERITY.critical,
    certainty: CERTAINTY_OF_TRIGGER.burst,
    headline: `${s.count} critical emergencies near ${place(s.lat, s.lng)}`,
    description: `${s.count} critical emergencies are open within ${km(s.radiusKm)} of ${place(s.lat, s.lng)} (${what}). `
      + 'Emergency services are responding.',
    instruction: BURST_INSTRUCTION,
    areaDesc: areaDesc(s.lat, s.lng, s.radiusKm),
    circle: { lat: s.lat, lng: s.lng, radiusKm: s.radiusKm },
  };
}

export interface WarnedIncident { kind: IncidentKind; severity: Severity; lat: number; lng: number }
export interface WarningWords { headline?: string | undefined; instruction?: string | undefined; radiusKm: number }

/** A dispatcher's warning about one incident: its kind and severity, their words where given. */
export function warningInfo(i: WarnedIncident, w: WarningWords): CapInfo {
  const event = EVENT_OF_KIND[i.kind];
  return {
    categories: [CATEGORY_OF_KIND[i.kind]],
    event,
    responseType: 'Avoid',
    urgency: URGENCY_OF_SEVERITY[i.severity],
    severity: SEVERITY_OF_SEVERITY[i.severity],
    certainty: CERTAINTY_OF_TRIGGER.warning,
    headline: w.headline ?? `${event} warning near ${place(i.lat, i.lng)}`,
    description: `A ${i.severity} ${event.toLowerCase()} near ${place(i.lat, i.lng)} is being handled by emergency services.`,
    instruction: w.instruction ?? INSTRUCTION_OF_KIND[i.kind],
    areaDesc: areaDesc(i.lat, i.lng, w.radiusKm),
    circle: { lat: i.lat, lng: i.lng, radiusKm: w.radiusKm },
  };
}

/** The all-clear: the last message's area and hazard, with nothing more to do. */
export function cancelInfo(last: CapInfo, why: string): CapInfo {
  return {
    ...last,
    responseType: 'AllClear',
    urgency: 'Past',
    headline: `Ended: ${last.headline}`,
    description: why,
    instruction: 'No further action is needed.',
  };
}
