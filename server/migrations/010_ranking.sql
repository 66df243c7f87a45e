-- Learned ranking (issue 16): heroes' answer history, kept by the outbox, and what each
-- offer was ranked on, so that every offer explains itself and training data accumulates.

-- A hero's answers to offers and arrivals, in hourly buckets (UTC). A round reads the sum
-- of the buckets inside RANKING_HISTORY_MS (a sliding window at hour resolution) in one
-- indexed query; nothing is counted on the hot path. Written only by the outbox topics
-- `stats:offer` and `stats:arrival` (server/store/hero-stats.store.ts). No foreign key to
-- heroes: history must not block, nor be removed by, changes to the registry.
create table hero_offer_stats (
  hero_id        text not null,
  hour           timestamptz not null,
  -- decided offers: accepts + declines + ignores (expired without an answer)
  offers         integer not null default 0,
  accepts        integer not null default 0,
  declines       integer not null default 0,
  ignores        integer not null default 0,
  -- time to answer, summed over accepts and declines
  answer_ms_sum  bigint not null default 0,
  -- actual assign → on_scene seconds / the offer's physics ETA, summed over arrivals
  eta_ratio_sum  float8 not null default 0,
  arrivals       integer not null default 0,
  primary key (hero_id, hour)
);
-- Pruning by age.
create index hero_offer_stats_hour_idx on hero_offer_stats (hour);

-- The outbox is at least once: a stats row may be carried out again after its effect
-- committed (the relay's claim transaction failed before deleting it). The effect records
-- the row's id here in its own transaction, and does nothing if the id is already there.
-- A marker is kept while its outbox row exists, then pruned: a deleted row never returns.
create table hero_stats_applied (
  outbox_id      bigint primary key,
  applied_at     timestamptz not null default now()
);

-- What the round ranked each offer on: the inputs (server/ranking/features.ts RankInput),
-- the model's version (null when today's ETA order ranked it), its score (pAccept, etaS,
-- expectedS, and the contributions), the hero's rank among the round's candidates,
-- whether the offer was the round's exploration slot, and the reasons in words.
alter table offers
  add column rank_input    jsonb,
  add column model_version text,
  add column score         jsonb,
  add column rank          integer,
  add column explored      boolean,
  add column why           jsonb;

-- A round counts the offers each candidate received in the last hour (activity).
create index offers_hero_created_idx on offers (hero_id, created_at);
