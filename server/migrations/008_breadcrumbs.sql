-- Breadcrumbs: where a hero was while they held an offer or an assignment, sampled off
-- the ping path (server/geo/breadcrumbs.sampler.ts) and read back by the timeline.
--
-- Layout, chosen for retention (rows are kept N days, then removed by age):
-- * Range partitions by UTC day (`breadcrumbs_pYYYYMMDD`, created a day ahead by the
--   sampler, server/store/breadcrumbs.store.ts). Retention drops whole days: no dead
--   rows, no vacuum debt, no index bloat, however many millions a day holds. A plain
--   table with a BRIN on `at` alone would decay: deleting old rows frees pages at the
--   head of the heap, new (recent) rows refill them, and every block range's min/max
--   widens to "ancient..now", so the BRIN stops excluding anything.
-- * A default partition catches rows no day partition covers (the sampler could not
--   create one in time, or rows written by hand): inserts never fail on a missing day.
--   Retention deletes from it in bounded batches.
-- * BRIN on `at`: inside a day partition rows arrive in time order and are never
--   refilled with later ones, so a BRIN of a few pages finds the rows older than a cut
--   inside the day that retention cuts through.
-- * B-tree on (hero_id, at): the timeline reads one hero's trail over a window; with
--   partition pruning on `at` it touches only the days of that window.
-- No foreign key to heroes: heroes are never deleted, the id comes from a verified
-- token and Postgres's own status, and a key check per row would cost an index probe
-- and a row lock on `heroes` (updated on every offer) for every point of every batch.
-- A breadcrumb is history; it must not block, or be removed by, changes to the registry.
create table breadcrumbs (
  hero_id   text not null,
  at        timestamptz not null,
  lat       float8 not null,
  lng       float8 not null
) partition by range (at);

create table breadcrumbs_default partition of breadcrumbs default;

create index breadcrumbs_hero_at_idx on breadcrumbs (hero_id, at);
create index breadcrumbs_at_brin on breadcrumbs using brin (at) with (pages_per_range = 16);
