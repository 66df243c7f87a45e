-- Consecutive failed dispatch rounds per incident, with the last cause: what turns a
-- round that throws into an alert instead of a silent loop. A row exists only while
-- an incident is failing (a success, or the sweeper, removes it), so it stays small.
create table dispatch_failures (
  incident_id     text primary key references incidents (id) on delete cascade,
  failures        integer not null,
  -- A short code (dispatch.cause.ts) and the raw error, for the alert and for operators.
  cause           text not null,
  last_error      text not null,
  first_failed_at timestamptz not null default now(),
  last_failed_at  timestamptz not null default now(),
  -- Set once dispatchers were told about this episode: one alert per episode.
  alerted_at      timestamptz
);

-- Idempotency keys are purged after IDEMPOTENCY_RETENTION_MS, oldest first, in batches.
create index idempotency_keys_created_idx on idempotency_keys (created_at);
