-- When the hero's app acknowledged receiving an offer: unacknowledged offers escalate
-- to push, SMS and voice.
alter table offers add column seen_at timestamptz;

-- Messages that exhausted their retries. Kept in the truth store: an operator must be
-- able to see every emergency message that never reached a hero.
create table notification_dead_letters (
  key             text primary key,
  channel         text not null,
  hero_id         text not null,
  offer_id        text not null,
  incident_id     text not null,
  error           text not null,
  created_at      timestamptz not null default now()
);
