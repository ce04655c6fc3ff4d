-- The journal database: one table per data topic, dead letters of every topic, and decision_members.
-- Files in this folder are applied in name order by sinks/journal (embedded chdb and ClickHouse server alike);
-- every statement is idempotent (IF NOT EXISTS).
CREATE DATABASE IF NOT EXISTS qt;
