// Names fixed by the wire contract (PROTOCOL.md). Clients and server import these
// lists instead of repeating the strings.

export const INCIDENT_KINDS = ['accident', 'fire', 'crime', 'medical', 'disaster', 'other'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** 0 for critical, the most urgent, up to 3 for low: orders every queue by severity. */
export const SEVERITY_RANK = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

export const INCIDENT_STATES = [
  'reported', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved', 'cancelled', 'escalated',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];
export const FINAL_STATES: readonly IncidentState[] = ['resolved', 'cancelled'];
export const isFinalState = (s: IncidentState): boolean => FINAL_STATES.includes(s);

/** States a hero moves an incident into with `incident:progress`. */
export const PROGRESS_STATES = ['en_route', 'on_scene', 'resolved'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];

/** How far one member of an incident has got (PROTOCOL v1.1 "Teams"), least advanced first. */
export const MEMBER_PROGRESS = ['assigned', ...PROGRESS_STATES] as const;
export type MemberProgress = (typeof MEMBER_PROGRESS)[number];

export const OFFER_STATES = ['pending', 'accepted', 'declined', 'expired', 'withdrawn'] as const;
export type OfferState = (typeof OFFER_STATES)[number];

export const ASSIGNMENT_STATES = ['active', 'released', 'completed'] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

export const ROLES = ['civilian', 'hero', 'dispatcher'] as const;
export type Role = (typeof ROLES)[number];

export const HERO_MODES = ['ground', 'air'] as const;
export type HeroMode = (typeof HERO_MODES)[number];

export const HERO_STATUSES = ['off_duty', 'available', 'offered', 'assigned'] as const;
export type HeroStatus = (typeof HERO_STATUSES)[number];

/** Every `reason` a socket ack may carry when `ok` is false. */
export const REFUSAL_REASONS = [
  'taken', 'expired', 'withdrawn', 'not_found', 'busy', 'invalid_transition', 'released', 'invalid',
  // Extensions (README "Protocol extensions"): throttled pings/events, and a server fault.
  'rate_limited', 'internal',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const ALERT_TYPES = [
  'incident_stuck', 'no_hero_found', 'hero_unreachable', 'location_stale', 'delivery_failed',
  // v1.1 Teams: some members assigned, a slot still open at the dispatch deadline.
  'team_incomplete',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/**
 * Stands in for an identity a civilian may not see: another civilian's id (a linked
 * report's reporter) or a dispatcher's, in views and audit trails served to civilians.
 */
export const HIDDEN = '(hidden)';

/** The largest socket payload the server reads (PROTOCOL "Bad input"). */
export const MAX_SOCKET_PAYLOAD_BYTES = 64 * 1024;
/** The most heroes one incident may need (PROTOCOL `needs`). */
export const MAX_NEEDED_HEROES = 10;
