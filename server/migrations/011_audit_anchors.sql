-- Issue 15, optional part: a daily anchor over the audit chains. For each UTC day, the
-- head (last seq and its hash) of every incident with events that day is digested,
-- and the digest is chained to the previous day's anchor. An anchor printed and kept
-- elsewhere makes even a consistent rewrite of a whole trail evident
-- (server/audit/audit.anchor.ts; written by the retention job, checked by audit:verify).
create table audit_anchors (
  day             date primary key,
  prev_anchor     text not null,
  digest          text not null,
  incidents       integer not null,
  events          integer not null,
  anchor          text not null,
  created_at      timestamptz not null default now()
);
