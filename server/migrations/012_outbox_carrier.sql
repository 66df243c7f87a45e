-- Issue 14: the process that commits a transaction carries out its outbox rows
-- without a claim transaction of its own. The rows name that process (`carrier`, the
-- key of a session advisory lock it holds for as long as it lives), and relay passes
-- leave them alone while the lock is held and `carrier_until` is ahead: a process
-- that dies drops the lock with its connection, and its rows go to the next pass.
alter table outbox add column carrier integer;
alter table outbox add column carrier_until timestamptz;
