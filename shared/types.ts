import type {
  AlertType, AssignmentState, HeroMode, HeroStatus, IncidentKind, IncidentState, Role, Severity,
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
  skill: string | null;
  state: AssignmentState;
  assignedAt: number;
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
