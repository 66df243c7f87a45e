-- OASIS CAP 1.2 public alerts (issue 15). An alert is one episode of trouble in one
-- area: raised (CAP msgType Alert), updated (Update) and finally cancelled (Cancel).
-- Every message sent is kept as sent, so a message's identifier always answers the same
-- document and an Update or Cancel can name what it refers to.
-- Incident ids are plain text, not foreign keys: the history of what the public was told
-- outlives the incidents, and retention may prune an incident without touching it.
create table public_alerts (
  id              text primary key,
  -- `burst`: critical incidents bunched together (found by the sweeper);
  -- `warning`: a dispatcher marked one incident for public warning.
  trigger         text not null check (trigger in ('burst', 'warning')),
  -- warning: the marked incident; burst: its first incident, the anchor of its area.
  incident_id     text not null,
  anchor_lat      double precision not null,
  anchor_lng      double precision not null,
  state           text not null default 'active' check (state in ('active', 'cancelled')),
  -- The latest message (the feed shows it) and how many there are.
  last_identifier text not null,
  messages        integer not null,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  cancelled_at    timestamptz
);
-- One live alert per trigger and incident: marking an incident again updates its
-- warning, and a burst is raised around an anchor once. The database is the last word
-- when processes race (the service also serialises writers with an advisory lock).
create unique index public_alerts_one_live on public_alerts (trigger, incident_id) where state = 'active';
-- The feed: newest first.
create index public_alerts_updated_idx on public_alerts (updated_at desc);

-- The incidents a burst counts. An incident counts in one burst, ever: two alerts can
-- never be raised over the same incidents, whichever process finds them.
create table public_alert_members (
  incident_id     text primary key,
  alert_id        text not null references public_alerts (id),
  joined_at       timestamptz not null default now()
);
create index public_alert_members_alert_idx on public_alert_members (alert_id);

-- Every message, immutable once written.
create table public_alert_messages (
  identifier      text primary key,
  alert_id        text not null references public_alerts (id),
  seq             integer not null,
  msg_type        text not null check (msg_type in ('Alert', 'Update', 'Cancel')),
  -- As sent (CAP_SENDER then): a later Update or Cancel references it by these three.
  sender          text not null,
  sent_at         timestamptz not null,
  -- What the message said (its CAP info; for a burst also its summary), so the next
  -- one is compared with it and a Cancel can repeat its area.
  content         jsonb not null,
  -- The CAP XML document exactly as served.
  document        text not null,
  unique (alert_id, seq)
);
