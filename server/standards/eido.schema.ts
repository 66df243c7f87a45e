// The NENA EIDO (Emergency Incident Data Object, NENA-STA-021.1b-2022) as a zod schema,
// written from the standard's REQUIRED data elements, so tests can check every document
// we serve and the OpenAPI document can describe it. Only the components we emit are
// spelled out; the rest of the standard's optional components pass through untouched
// (objects are loose, as the standard's own schema sets no additionalProperties).
//
// Source: github.com/NENA911/EIDO-JSON, branch NENA-STA-021.1b (the published 2022
// standard), commit c3b8d2063be63d27ff7e2d3c353c597c71817a1b:
//   - Schema/openapi.yaml, components.schemas: PrologueType, ReferenceType, AgencyType,
//     AgentType, IncidentInformationType, LocationInformationType, NotesType,
//     EmergencyResourceType, DispatchInformationType, EmergencyIncidentDataObjectType
//     (their `required` lists are the required keys below);
//   - "Documentation/NENA-STA-021.1b EIDO JSON_2022.docx", §2 (each component's table:
//     min/max, conditional elements, identifier forms) and §3 (the registries,
//     eido.registries.ts).
// The repository's main branch (7f62055, a NENA-STA-021.1.1 draft) has the same required
// lists for these components.
//
// Two names differ from everyday speech: the Incident Tracking Identifier is the EIDO's
// own `$id` (§2.4: "In this data component, the identifier ($id) is the Incident Tracking
// Identifier"), and the version is `eidoVersion`, "1.0" for this version of the standard.
import { z } from 'zod';
import {
  AGENCY_ROLES, EMERGENCY_RESOURCE_TYPES, INCIDENT_STATUSES, INCIDENT_TYPES, LOCATION_TYPES, PRIMARY_UNIT_STATUSES,
  SECONDARY_UNIT_STATUSES,
} from './eido.registries.ts';

/** NENA-STA-010's Incident Tracking Identifier: `urn:emergency:uid:incidentid:<unique string>:<agency id>`. */
export const TRACKING_ID = /^urn:emergency:uid:incidentid:[A-Za-z0-9]+:[A-Za-z0-9.-]+$/i;
/** §2.1: a component with no identifier of its own is `urn:emergency:uid:eidodatacomponent:<unique string>:<agency id>`. */
export const COMPONENT_ID = /^urn:emergency:uid:eidodatacomponent:[A-Za-z0-9]+:[A-Za-z0-9.-]+$/i;
/** Agent identifiers and §2.20's unit ids are `name@AgencyId` (e.g. engine52@riversideFD.riverside.ca). */
const AT_AGENCY = /^[^@\s]+@[A-Za-z0-9.-]+$/;
/** An agency identifier: a domain name (NENA-STA-010). */
const AGENCY_ID = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * §2.1: "W3C datetime format as specified in NENA-STA-010", the RFC 3339 `date-time`
 * (§5.6): seconds, optional fraction, and a time offset (`Z` or ±hh:mm).
 */
export const dateTime = z.string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/, 'an RFC 3339 date-time with an offset')
  .refine((v) => !Number.isNaN(Date.parse(v)), 'a real date and time');

/** ReferenceType: `$ref` holds the `$id` of a component elsewhere in the document. */
const reference = z.looseObject({ $ref: z.string().min(1) });

/** PrologueType: on every data component. `updatedByAgentReference` is conditional (present when an agent changed it). */
const prologue = (id: z.ZodString) => ({
  $id: id,
  lastUpdateTimeStamp: dateTime,
  updatedByAgencyReference: reference,
  updatedByAgentReference: reference.optional(),
});

export const agencyComponent = z.looseObject({
  ...prologue(z.string().regex(AGENCY_ID)),
  agencyRoleDescriptionRegistryText: z.array(z.enum(AGENCY_ROLES)).min(1),
  /** Values of the urn:emergency:service:responder registry without that prefix. */
  agencyType: z.array(z.string().min(1)).min(1),
  incidentOwningAgencyIndicator: z.boolean().optional(),
});

export const agentComponent = z.looseObject({
  ...prologue(z.string().regex(AT_AGENCY)),
  agentRoleRegistryText: z.array(z.string().min(1)).min(1),
  agencyReference: reference,
});

export const incidentComponent = z.looseObject({
  ...prologue(z.string().regex(COMPONENT_ID)),
  incidentTypeCommonRegistryText: z.enum(INCIDENT_TYPES),
  incidentStatusCommonRegistryText: z.array(z.enum(INCIDENT_STATUSES)).optional(),
  incidentStatusInternalText: z.array(z.string()).optional(),
  /** §2.9: 0 (lowest) to 10 (highest). */
  incidentCommonPriorityNumber: z.number().int().min(0).max(10).optional(),
  locationReference: z.array(reference).optional(),
  notesReference: z.array(reference).optional(),
  agentReference: z.array(reference).optional(),
});

/** §2.18: exactly one of locationByValue (a PIDF-LO) and locationByReferenceUrl. */
export const locationComponent = z.looseObject({
  ...prologue(z.string().regex(COMPONENT_ID)),
  locationTypeDescriptionRegistryText: z.enum(LOCATION_TYPES),
  locationByValue: z.string().min(1).optional(),
  locationByReferenceUrl: z.url().optional(),
}).refine((l) => (l.locationByValue === undefined) !== (l.locationByReferenceUrl === undefined), {
  message: 'exactly one of locationByValue and locationByReferenceUrl',
});

/** §2.15: an HTML fragment, at most 16 MB. */
export const notesComponent = z.looseObject({
  ...prologue(z.string().regex(COMPONENT_ID)),
  notesActionComments: z.string().max(16 * 1024 * 1024),
  agentReference: reference.optional(),
});

export const emergencyResourceComponent = z.looseObject({
  ...prologue(z.string().regex(AT_AGENCY)),
  emergencyResourceTypeCommonRegistryText: z.enum(EMERGENCY_RESOURCE_TYPES),
  /** Required by the schema; the standard's table allows none (0..*). */
  resourceAttributeRegistryText: z.array(z.string().min(1)),
  primaryUnitStatusRegistryText: z.enum(PRIMARY_UNIT_STATUSES),
  secondaryUnitStatusRegistryText: z.array(z.enum(SECONDARY_UNIT_STATUSES)).min(1),
  agentReference: z.array(reference).min(1),
});

export const dispatchComponent = z.looseObject({
  ...prologue(z.string().regex(COMPONENT_ID)),
  agencyReference: reference.optional(),
  agentReference: reference.optional(),
  emergencyResourceReference: z.array(reference).optional(),
});

/** Every `$id` and `$ref` in a document, wherever they sit. */
function idsAndRefs(value: unknown, ids: string[], refs: string[]): void {
  if (Array.isArray(value)) for (const v of value) idsAndRefs(v, ids, refs);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$id' && typeof v === 'string') ids.push(v);
      else if (k === '$ref' && typeof v === 'string') refs.push(v);
      else idsAndRefs(v, ids, refs);
    }
  }
}

/**
 * EmergencyIncidentDataObjectType. Required: the prologue, `eidoVersion`,
 * `issuingElementIdentification` and at least one agency; a location whenever one is
 * known (§2.4, conditional). Across the document every `$id` is unique (§2.1) and every
 * `$ref` names one of them (§2.3).
 */
export const eidoDocument = z.looseObject({
  ...prologue(z.string().regex(TRACKING_ID)),
  eidoVersion: z.literal('1.0'),
  issuingElementIdentification: z.string().min(1),
  incidentComponent: incidentComponent.optional(),
  agencyComponent: z.array(agencyComponent).min(1),
  agentComponent: z.array(agentComponent).optional(),
  locationComponent: z.array(locationComponent).optional(),
  notesComponent: z.array(notesComponent).optional(),
  emergencyResourceComponent: z.array(emergencyResourceComponent).optional(),
  dispatchComponent: z.array(dispatchComponent).optional(),
}).superRefine((doc, ctx) => {
  const ids: string[] = [];
  const refs: string[] = [];
  idsAndRefs(doc, ids, refs);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `$id ${id} is not unique in the document` });
    seen.add(id);
  }
  for (const ref of refs) {
    if (!seen.has(ref)) ctx.addIssue({ code: 'custom', message: `$ref ${ref} names no component of the document` });
  }
});

export type EidoDocument = z.infer<typeof eidoDocument>;
export type AgencyComponent = z.infer<typeof agencyComponent>;
export type AgentComponent = z.infer<typeof agentComponent>;
export type IncidentComponent = z.infer<typeof incidentComponent>;
export type LocationComponent = z.infer<typeof locationComponent>;
export type NotesComponent = z.infer<typeof notesComponent>;
export type EmergencyResourceComponent = z.infer<typeof emergencyResourceComponent>;
export type DispatchComponent = z.infer<typeof dispatchComponent>;
