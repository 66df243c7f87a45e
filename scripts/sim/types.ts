// Wire shapes the simulator reads, written from PROTOCOL.md (the only interface it uses).
export interface LatLng { lat: number; lng: number }

export type MemberProgress = 'assigned' | 'en_route' | 'on_scene' | 'resolved';

export interface Assignment {
  heroId: string;
  skill: string | null;
  state: 'active' | 'released' | 'completed';
  assignedAt: number;
  /** v1.1 Teams: the slot this assignment fills and the member's own progress. */
  slot?: number;
  progress?: MemberProgress;
}

export interface Slot { slot: number; skill: string | null; heroId: string | null }

export interface Incident {
  id: string;
  kind: string;
  severity: string;
  state: string;
  location: LatLng;
  description: string;
  needs: { skill: string | null; count: number }[];
  reportedBy: string;
  assignments: Assignment[];
  /** v1.1 Teams: every slot and the member filling it (active or completed). */
  slots?: Slot[];
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface Offer { offerId: string; incident: Incident; distanceKm: number; expiresAt: number; slot?: number; skill?: string | null }

export interface HeroSession {
  onDuty: boolean;
  offers: Offer[];
  assignment: { incidentId: string; incident: Incident } | null;
}

export type Ack = { ok: true; [k: string]: unknown } | { ok: false; reason: string; errors?: unknown };

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STATES = ['reported', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved', 'escalated', 'cancelled'] as const;
/** States an incident can only be in once every slot was filled at least once. */
export const ASSIGNED_OR_LATER = new Set(['assigned', 'en_route', 'on_scene', 'resolved']);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
