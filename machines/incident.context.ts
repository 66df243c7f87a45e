// The incident machine's context: its slots, members and reports. Its own module so
// the pure team readings (incident.team.ts) and the machine can both import it
// without importing each other.
import type { MemberProgress, Severity } from '../shared/domain.ts';

export interface Slot {
  skill: string | null;
}

/** An active member: `filled` lists exactly the active assignments (invariant I1). */
export interface FilledSlot {
  slot: number;
  heroId: string;
}

/** Who fills a slot (active, or resolved and free again) and how far they have got. */
export interface Member {
  heroId: string;
  progress: MemberProgress;
}

/** One civilian's report still standing on the incident (the first is its reporter's). */
export interface Report {
  civilianId: string;
  severity: Severity;
}

export interface IncidentContext {
  slots: Slot[];
  filled: FilledSlot[];
  /** Dispatch rounds run so far; decides when to escalate. */
  round: number;
  maxRounds: number;
  // The three below came with linked reports (PROTOCOL v1.1). Incidents started before
  // have none of them; they keep their old behaviour and are never linked to.
  /** The highest severity among its reports, ever: a withdrawal never lowers it. */
  severity?: Severity;
  /** The reports standing on it; the incident is cancelled when the last is withdrawn. */
  reports?: Report[];
  /** The severity the current round's offers were sized for; a rise above it asks for a top-up. */
  roundSeverity?: Severity;
  /**
   * Teams (PROTOCOL v1.1): by slot, its member and their own progress, null while the
   * slot is open. A member who resolved leaves `filled` (their assignment is completed)
   * but keeps the slot here. Incidents started before have none: their heroes move the
   * incident together, as they always did.
   */
  members?: (Member | null)[];
}
