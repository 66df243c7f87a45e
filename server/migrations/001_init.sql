-- Truth lives here (DESIGN §1). Redis holds only what can be rebuilt from these
-- tables plus the next location pings.

create table heroes (
  id              text primary key,
  name            text not null,
  skills          text[] not null default '{}',
  mode            text not null check (mode in ('ground', 'air')),
  on_duty         boolean not null default false,
  -- Derived from offers and assignments by the same transaction that changes them;
  -- status_version orders the copies pushed to Redis.
  status          text not null default 'off_duty' check (status in ('off_duty', 'available', 'offered', 'assigned')),
  status_version  bigint not null default 0,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

create table incidents (
  id              text primary key,
  kind            text not null,
  severity        text not null,
  severity_rank   smallint not null,
  state           text not null,
  lat             double precision not null,
  lng             double precision not null,
  description     text not null default '',
  needs           jsonb not null,
  reported_by     text not null,
  snapshot        jsonb not null,
  version         integer not null,
  -- When something must have happened by (next dispatch round, stuck detection).
  deadline_at     timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index incidents_open_idx on incidents (state) where state not in ('resolved', 'cancelled');
create index incidents_deadline_idx on incidents (deadline_at) where state not in ('resolved', 'cancelled');
create index incidents_reporter_idx on incidents (reported_by, created_at desc);

create table idempotency_keys (
  actor           text not null,
  key             text not null,
  request_hash    text not null,
  -- Deferred: the key is claimed first, so a concurrent retry waits on it, then the
  -- incident it names is written in the same transaction.
  incident_id     text not null references incidents (id) deferrable initially deferred,
  created_at      timestamptz not null default now(),
  primary key (actor, key)
);

create table offers (
  id              text primary key,
  incident_id     text not null references incidents (id),
  hero_id         text not null references heroes (id),
  slot            integer not null,
  round           integer not null,
  state           text not null default 'pending' check (state in ('pending', 'accepted', 'declined', 'expired', 'withdrawn')),
  reason          text,
  distance_km     double precision not null,
  created_at      timestamptz not null default now(),
  expires_at      timestamptz not null,
  decided_at      timestamptz
);
-- A hero holds at most one pending offer: bursts cannot flood one hero.
create unique index offers_one_pending_per_hero on offers (hero_id) where state = 'pending';
create index offers_incident_idx on offers (incident_id, state);
create index offers_pending_expiry_idx on offers (expires_at) where state = 'pending';

create table assignments (
  id              bigserial primary key,
  incident_id     text not null references incidents (id),
  slot            integer not null,
  hero_id         text not null references heroes (id),
  skill           text,
  offer_id        text references offers (id),
  state           text not null default 'active' check (state in ('active', 'released', 'completed')),
  reason          text,
  assigned_at     timestamptz not null default now(),
  ended_at        timestamptz
);
-- I1 and I2, enforced by the database itself: the last line of defence.
create unique index assignments_one_per_slot on assignments (incident_id, slot) where state = 'active';
create unique index assignments_one_per_hero on assignments (hero_id) where state = 'active';
create index assignments_incident_idx on assignments (incident_id);

-- Append-only audit trail: one row per machine event, seq = the incident's version.
create table incident_events (
  incident_id     text not null references incidents (id),
  seq             integer not null,
  type            text not null,
  from_state      text,
  to_state        text not null,
  actor           text not null,
  data            jsonb not null default '{}',
  at              timestamptz not null default now(),
  primary key (incident_id, seq)
);

-- Side effects committed with the change that asked for them (DESIGN §3).
create table outbox (
  id              bigserial primary key,
  topic           text not null,
  incident_id     text,
  payload         jsonb not null,
  created_at      timestamptz not null default now()
);
