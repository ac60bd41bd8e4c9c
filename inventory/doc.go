// Package inventory is the segment inventory a data server serves and Brokers and Coordinators long-poll (GET
// /druid-internal/v1/segments, Druid's ChangeRequestsSnapshot): the announced set and its change history, the
// handler that writes snapshots and deltas in JSON or Smile, and Decode, the one reader of those documents, which
// the audit and the test peers use.
package inventory
