-- Teams (PROTOCOL v1.1): each member's own progress, and the ETA each member was
-- given when they took their slot (the team's arrival is the slowest of them).
alter table assignments add column progress text not null default 'assigned'
  check (progress in ('assigned', 'en_route', 'on_scene', 'resolved'));
-- Seconds from the assignment to the scene, as estimated then; null when a dispatcher
-- assigned a hero whose position was unknown.
alter table assignments add column eta_s integer;
-- Estimated when the offer is made (distance and the hero's mode), carried to the
-- assignment by the accept.
alter table offers add column eta_s integer;
-- When dispatchers were told that this incident's team is incomplete at its deadline:
-- one `team_incomplete` alert per episode (cleared once every slot is filled).
alter table incidents add column team_alerted_at timestamptz;
