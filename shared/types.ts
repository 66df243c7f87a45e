import type {
  AlertType, AssignmentState, HeroMode, HeroStatus, IncidentKind, IncidentState, MemberProgress, OfferState, Role, Severity,
} from './domain.ts';

/** WGS-84 degrees. */
export interface LatLng {
  lat: number;
  lng: number;
}

export interface Need {
  skill: string | null;
  count: number;
}

export interface AssignmentView {
  heroId: string;
  /** The member's display name (extension): teammates see who they work with. */
  name?: string;
  skill: string | null;
  state: AssignmentState;
  assignedAt: number;
  /** The slot this member fills (PROTOCOL v1.1 "Teams"). */
  slot: number;
  /** The member's own progress; a released member's is where they had got to. */
  progress: MemberProgress;
}

/** One unit of `needs` (PROTOCOL v1.1 "Teams"): `heroId` is its member, active or completed. */
export interface SlotView {
  slot: number;
  skill: string | null;
  heroId: string | null;
}

export interface IncidentView {
  id: string;
  kind: IncidentKind;
  severity: Severity;
  state: IncidentState;
  location: LatLng;
  description: string;
  needs: Need[];
  /** The reporter; `HIDDEN` (shared/domain.ts) when another civilian whose report was linked reads it. */
  reportedBy: string;
  assignments: AssignmentView[];
  slots: SlotView[];
  /**
   * Extension (README): when the whole team should be on scene, the latest of its
   * members' assignedAt + ETA; null while a slot is open or a member's ETA is unknown.
   */
  teamEtaAt: number | null;
  /** How many reports stand on it (PROTOCOL v1.1 "Linked reports"). */
  reports: number;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface IncidentEventView {
  seq: number;
  type: string;
  from: IncidentState | null;
  to: IncidentState;
  actor: string;
  at: number;
  data: Record<string, unknown>;
}

/** A page of the audit trail (extension: `?after=<seq>&limit=<n>`); `next` is the `after` of the next page. */
export interface IncidentEventsPage {
  items: IncidentEventView[];
  next?: number;
}

export interface HeroView {
  id: string;
  name: string;
  skills: string[];
  mode: HeroMode;
  onDuty: boolean;
  status: HeroStatus;
  location?: LatLng;
  lastSeenAt?: number;
}

export interface HeroMapEntry {
  id: string;
  status: HeroStatus;
  location?: LatLng;
  lastSeenAt?: number;
}

export interface OfferPush {
  offerId: string;
  incident: IncidentView;
  distanceKm: number;
  expiresAt: number;
  /** The slot the offer is for and its skill (PROTOCOL v1.1 "Teams"). */
  slot: number;
  skill: string | null;
}

export interface HeroSession {
  onDuty: boolean;
  offers: OfferPush[];
  assignment: { incidentId: string; incident: IncidentView } | null;
}

export interface CivilianStatus {
  incidentId: string;
  state: IncidentState;
  heroes: { id: string; name: string; distanceKm?: number }[];
  at: number;
}

export interface DispatchSnapshot {
  incidents: IncidentView[];
  heroes: (HeroMapEntry & { name: string; onDuty: boolean })[];
}

export interface Alert {
  type: AlertType;
  incidentId?: string;
  heroId?: string;
  detail: string;
  at: number;
}

export interface TokenClaims {
  sub: string;
  role: Role;
}

/** One audit event of a timeline, with the incident as the machine replays it after the event. */
export interface TimelineEvent extends IncidentEventView {
  /** The incident's state after this event, replayed through machines/incident.logic.ts. */
  state: IncidentState;
  /** The slots filled after this event, from the same replayed snapshot. */
  members: { slot: number; heroId: string }[];
}

export interface TimelineOffer {
  id: string;
  heroId: string;
  slot: number;
  round: number;
  state: OfferState;
  reason: string | null;
  offeredAt: number;
  expiresAt: number;
  decidedAt: number | null;
  /** decidedAt − offeredAt, whatever the outcome; null while pending. */
  answerMs: number | null;
  distanceKm: number;
  etaS: number | null;
}

export interface TimelinePoint {
  at: number;
  lat: number;
  lng: number;
}

/** A hero offered or assigned this incident, with where they were while they held it. */
export interface TimelineMember {
  heroId: string;
  name: string | null;
  breadcrumbs: TimelinePoint[];
}

/** Key moments (epoch ms) and the time between them (ms); null when it did not happen (yet). */
export interface TimelineIntervals {
  reportedAt: number | null;
  firstOfferAt: number | null;
  /** For a team: the first member's (accept or hand assignment), as are enRouteAt and onSceneAt. */
  acceptedAt: number | null;
  enRouteAt: number | null;
  onSceneAt: number | null;
  resolvedAt: number | null;
  reportToFirstOfferMs: number | null;
  firstOfferToAcceptMs: number | null;
  acceptToEnRouteMs: number | null;
  enRouteToOnSceneMs: number | null;
  onSceneToResolvedMs: number | null;
  reportToResolvedMs: number | null;
}

/** GET /v1/incidents/:id/timeline (issue 15): an incident told again, for dispatchers. */
export interface TimelineView {
  incident: IncidentView;
  generatedAt: number;
  events: TimelineEvent[];
  /** Oldest first. */
  offers: TimelineOffer[];
  members: TimelineMember[];
  intervals: TimelineIntervals;
  /** Some events, offers or breadcrumbs were left out (TIMELINE_MAX_*). */
  truncated: boolean;
}
