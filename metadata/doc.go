// Package metadata reads Apache Druid's metadata store and decides what the Coordinator would decide from it.
//
// It covers three things:
//
//   - The store itself (Open, Store): the segments table, streamed row by row with the payload parsed into a
//     segments.DataSegment (StreamSegments), and the rules table, read as the Coordinator polls it: the latest version
//     of each dataSource's rules (LoadRules). PostgreSQL (through pgx) and MySQL or MariaDB (through
//     go-sql-driver/mysql) are read alike; every column set Druid has written from 0.22 to 36 is read.
//   - Retention rules (Rule, RuleSet, Evaluator): every rule type Druid publishes, parsed as Jackson reads it and
//     applied as the Coordinator's RunRules duty applies it: the dataSource's rules, then the default rules
//     (dataSource "_default"), the first rule that applies to the segment's interval at the reference time winning.
//   - Overshadowing (Overshadowed): which used segments Druid's segment timeline considers overshadowed, including
//     incomplete core partition sets (which overshadow nothing) and segment-lock atomic update groups.
//
// Every Store of the process sets druid_sidecar_metadata_store_up{type} (Collector): 1 after a connection is made,
// 0 when one cannot be made or breaks.
//
// ddl.go writes Druid's own DDL and rows (CreateTables, InsertSegment, CopySegments, InsertRules) for tests and for
// seeding a sandbox; mysql_ddl.go does the same on MySQL (CreateMySQLTables, InsertMySQLSegments,
// LoadMySQLSegments, InsertMySQLRules).
//
// The authority for every rule is Druid's Java source (SQLMetadataConnector, SqlSegmentsMetadataQuery,
// SQLMetadataRuleManager, the rules package, VersionedIntervalTimeline, PartitionHolder, OvershadowableManager); the
// package reimplements their behaviour without sharing their code.
package metadata
