-- Civilians whose reports of the same emergency were linked to this incident: they
-- follow it like its reporter, without pulling more heroes to the scene.
alter table incidents add column co_reporters text[] not null default '{}';
create index incidents_recent_open_idx on incidents (kind, created_at) where state not in ('resolved', 'cancelled');
create index incidents_co_reporters_idx on incidents using gin (co_reporters);
