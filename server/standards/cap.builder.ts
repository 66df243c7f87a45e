// One OASIS CAP 1.2 alert message as XML, from plain data: a pure function, so what a
// message says is decided elsewhere (server/standards/cap.content.ts) and the wire form
// here, element order and value formats exactly as the standard and its schema
// (server/standards/schemas/cap-1.2.xsd) ask. Built with xmlbuilder2, which escapes text.
import { create } from 'xmlbuilder2';

export const CAP_NAMESPACE = 'urn:oasis:names:tc:emergency:cap:1.2';
/** IANA's media type for CAP documents. */
export const CAP_MEDIA_TYPE = 'application/cap+xml';

export const CAP_MSG_TYPES = ['Alert', 'Update', 'Cancel'] as const;
export type CapMsgType = (typeof CAP_MSG_TYPES)[number];
export type CapCategory = 'Geo' | 'Met' | 'Safety' | 'Security' | 'Rescue' | 'Fire' | 'Health' | 'Env' | 'Transport' | 'Infra' | 'CBRNE' | 'Other';
export type CapResponseType = 'Shelter' | 'Evacuate' | 'Prepare' | 'Execute' | 'Avoid' | 'Monitor' | 'Assess' | 'AllClear' | 'None';
export type CapUrgency = 'Immediate' | 'Expected' | 'Future' | 'Past' | 'Unknown';
export type CapSeverity = 'Extreme' | 'Severe' | 'Moderate' | 'Minor' | 'Unknown';
export type CapCertainty = 'Observed' | 'Likely' | 'Possible' | 'Unlikely' | 'Unknown';

/** A circle in WGS 84, radius in kilometres (CAP 1.2 §3.2.4 `circle`). */
export interface CapCircle { lat: number; lng: number; radiusKm: number }

export interface CapInfo {
  categories: CapCategory[];
  event: string;
  responseType: CapResponseType;
  urgency: CapUrgency;
  severity: CapSeverity;
  certainty: CapCertainty;
  headline: string;
  description: string;
  instruction: string;
  areaDesc: string;
  circle: CapCircle;
}

/** An earlier message this one updates or cancels. */
export interface CapReference { sender: string; identifier: string; sent: Date }

export interface CapMessage {
  identifier: string;
  sender: string;
  sent: Date;
  msgType: CapMsgType;
  /** Required for Update and Cancel; none for Alert. */
  references: CapReference[];
  note?: string;
  info: CapInfo;
}

/**
 * CAP's dateTime (§3.3.2): seconds precision and a numeric offset; UTC is written
 * `-00:00`, never `Z` ("Alphabetic timezone designators such as 'Z' MUST NOT be used").
 */
export function capDateTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}-00:00`;
}

/** `sender,identifier,sent` triples separated by spaces (§3.2.1 `references`). */
export function capReferences(refs: readonly CapReference[]): string {
  return refs.map((r) => `${r.sender},${r.identifier},${capDateTime(r.sent)}`).join(' ');
}

const num = (x: number, digits: number) => String(Number(x.toFixed(digits)));

/** `lat,lon radius`: latitude first (unlike GeoJSON), WGS 84 degrees, radius in km. */
export function capCircle(c: CapCircle): string {
  return `${num(c.lat, 5)},${num(c.lng, 5)} ${num(c.radiusKm, 2)}`;
}

// Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; U+FFFE/U+FFFF;
// lone surrogates): dropped rather than letting one bad character fail an alert.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export const xmlText = (s: string): string => s.replace(NOT_XML, '');

/** The message as a CAP 1.2 XML document (UTF-8, one `info`, one `area`). */
export function buildCapAlert(m: CapMessage): string {
  const alert = create({ version: '1.0', encoding: 'UTF-8' }).ele(CAP_NAMESPACE, 'alert');
  const add = (parent: typeof alert, name: string, value: string) => parent.ele(name).txt(xmlText(value)).up();
  add(alert, 'identifier', m.identifier);
  add(alert, 'sender', m.sender);
  add(alert, 'sent', capDateTime(m.sent));
  add(alert, 'status', 'Actual');
  add(alert, 'msgType', m.msgType);
  add(alert, 'scope', 'Public');
  if (m.note) add(alert, 'note', m.note);
  if (m.references.length) add(alert, 'references', capReferences(m.references));

  const i = m.info;
  const info = alert.ele('info');
  add(info, 'language', 'en-US');
  for (const c of i.categories) add(info, 'category', c);
  add(info, 'event', i.event);
  add(info, 'responseType', i.responseType);
  add(info, 'urgency', i.urgency);
  add(info, 'severity', i.severity);
  add(info, 'certainty', i.certainty);
  add(info, 'senderName', 'Superhero Dispatch');
  add(info, 'headline', i.headline);
  add(info, 'description', i.description);
  add(info, 'instruction', i.instruction);
  const area = info.ele('area');
  add(area, 'areaDesc', i.areaDesc);
  add(area, 'circle', capCircle(i.circle));
  return alert.end({ prettyPrint: true });
}
