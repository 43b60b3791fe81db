-- Every lease is renewed every few seconds: with room left in each page the
-- update stays in place (a HOT update: no new index entries), instead of
-- growing the table and its WAL (2 -> 40 MiB in two minutes at 10,000
-- sessions; BENCHMARKS.md). Pages already written get the room as they are
-- rewritten.
ALTER TABLE leases SET (fillfactor = 50);
