// The public list of alerts as an Atom feed (RFC 4287), the usual index of CAP
// messages (as CAP feeds from weather services publish them): one entry per alert,
// showing and linking to its latest message. Pure; the links are relative to the
// feed's own URL, so nothing depends on a Host header.
import { createHash } from 'node:crypto';
import { create } from 'xmlbuilder2';
import { CAP_MEDIA_TYPE, type CapMsgType, xmlText } from './cap.builder.ts';

export const ATOM_NAMESPACE = 'http://www.w3.org/2005/Atom';
export const ATOM_MEDIA_TYPE = 'application/atom+xml';

export interface FeedEntry {
  /** The alert (all its messages share it): the entry's id. */
  alertId: string;
  /** The latest message: what the entry links to. */
  identifier: string;
  msgType: CapMsgType;
  sent: Date;
  headline: string;
  areaDesc: string;
}

/** RFC 3339, seconds precision, UTC (Atom's date form; CAP's own `-00:00` is for CAP). */
const atomDate = (at: Date) => `${at.toISOString().slice(0, 19)}Z`;

/** A name-based UUID (the RFC 9562 version 5 layout): the same sender, the same feed id, forever. */
function nameUuid(name: string): string {
  const h = createHash('sha1').update(`superhero-dispatch:cap-feed:${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A message's path, relative to the API root: the same form in the feed and in JSON answers. */
export const capMessagePath = (identifier: string) => `/v1/alerts/cap/${encodeURIComponent(identifier)}`;

/** The feed: entries newest first, as given; `now` dates an empty feed. */
export function buildCapFeed(o: { sender: string; entries: readonly FeedEntry[]; now: Date }): string {
  const feed = create({ version: '1.0', encoding: 'UTF-8' }).ele(ATOM_NAMESPACE, 'feed');
  const add = (parent: typeof feed, name: string, value: string) => parent.ele(name).txt(xmlText(value)).up();
  add(feed, 'id', `urn:uuid:${nameUuid(o.sender)}`);
  add(feed, 'title', 'Superhero Dispatch public alerts (OASIS CAP 1.2)');
  const newest = o.entries.reduce((t, e) => Math.max(t, e.sent.getTime()), 0);
  add(feed, 'updated', atomDate(newest ? new Date(newest) : o.now));
  feed.ele('author').ele('name').txt(xmlText(o.sender)).up().up();
  feed.ele('link', { rel: 'self', type: ATOM_MEDIA_TYPE, href: '/v1/alerts/cap' }).up();
  for (const e of o.entries) {
    const entry = feed.ele('entry');
    add(entry, 'id', `urn:uuid:${e.alertId}`);
    add(entry, 'title', e.headline);
    add(entry, 'updated', atomDate(e.sent));
    entry.ele('category', { term: e.msgType, label: `CAP msgType ${e.msgType}` }).up();
    add(entry, 'summary', `${e.msgType}: ${e.areaDesc}`);
    entry.ele('link', { rel: 'alternate', type: CAP_MEDIA_TYPE, href: capMessagePath(e.identifier) }).up();
  }
  return feed.end({ prettyPrint: true });
}
