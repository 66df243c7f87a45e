// Typed Socket.IO event maps, one pair per namespace. Payloads arriving at the
// server are typed `unknown`: the server parses them with shared/schemas.ts.
import type { AckCallback } from './ack.ts';
import type {
  Alert, CivilianStatus, DispatchSnapshot, HeroMapEntry, HeroSession, IncidentView, OfferPush,
} from './types.ts';
import type { IncidentState } from './domain.ts';

/** Sent just before the server cuts a socket whose token expired (extension, README). */
export interface SessionExpired { reason: 'unauthorized' }

export interface HeroServerEvents {
  session: (session: HeroSession) => void;
  offer: (offer: OfferPush) => void;
  'offer:withdrawn': (payload: { offerId: string; reason: string }) => void;
  'assignment:released': (payload: { incidentId: string; reason: string }) => void;
  'session:expired': (notice: SessionExpired) => void;
}

export interface HeroClientEvents {
  duty: (payload: unknown, ack: AckCallback) => void;
  location: (payload: unknown, ack?: AckCallback) => void;
  'offer:accept': (payload: unknown, ack: AckCallback<{ incidentId: string }>) => void;
  'offer:decline': (payload: unknown, ack: AckCallback) => void;
  'incident:progress': (payload: unknown, ack: AckCallback<{ state: IncidentState }>) => void;
}

export interface CivilianServerEvents {
  'incident:status': (status: CivilianStatus) => void;
  'session:expired': (notice: SessionExpired) => void;
}

export interface CivilianClientEvents {
  'incident:watch': (payload: unknown, ack: AckCallback<{ incident: IncidentView }>) => void;
}

export interface DispatchServerEvents {
  snapshot: (snapshot: DispatchSnapshot) => void;
  incident: (incident: IncidentView) => void;
  heroes: (batch: HeroMapEntry[]) => void;
  alert: (alert: Alert) => void;
  'session:expired': (notice: SessionExpired) => void;
}

// The dispatcher namespace takes no commands over the socket: overrides are HTTP.
export type DispatchClientEvents = Record<string, never>;
