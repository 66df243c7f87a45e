-- Issue 15: a tamper-evident audit trail. Each event carries the hash of the previous
-- event of its incident (prev_hash) and its own (hash), over a canonical encoding
-- (server/audit/audit.chain.ts), written in the same statement as the event. The
-- incident row keeps the newest event's hash (audit_head), so the next event is
-- chained without reading the trail, and a deleted tail shows against it.
-- Events written before this migration have no hashes: audit:verify counts them as
-- unchained and checks the chain from the first hashed event on.
alter table incident_events add column prev_hash text, add column hash text;
alter table incidents add column audit_head text;
