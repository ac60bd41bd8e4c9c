package sandbox

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/metadata"
	"github.com/druid-sidecar/druid-sidecar/segments"
)

// Rules is one druid_rules entry: the rules of DataSource (a JSON array, as the Coordinator's rules API stores
// them) at Version.
type Rules struct {
	DataSource string
	Version    time.Time
	Payload    []byte
}

// OneReplicaDefaultRules are the default rules of a one-Historical cluster: load everything, one replica in
// _default_tier. Druid seeds "_default" with two replicas, which a single server can never satisfy. The bytes are
// those Jackson writes for a loadForever rule (the list is type-erased, so "type" comes last).
func OneReplicaDefaultRules() Rules {
	return Rules{
		DataSource: metadata.DefaultRulesDataSource,
		Version:    time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC),
		Payload:    []byte(`[{"tieredReplicants":{"_default_tier":1},"useDefaultTierForNull":true,"type":"loadForever"}]`),
	}
}

// EnsureDatabase creates the database name on the PostgreSQL server of adminURL (a postgres:// URL of a user who
// may create databases) unless it exists, and returns the URL of that database.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Host == "" {
		return "", fmt.Errorf("%q is not a postgres://user@host:port/database URL of the metadata store's server", adminURL)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connecting to PostgreSQL at %s: %w", u.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("PostgreSQL at %s: looking for database %s: %w", u.Host, name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("PostgreSQL at %s: creating database %s: %w", u.Host, name, err)
		}
	}
	db := *u
	db.Path, db.RawPath = "/"+name, ""
	return db.String(), nil
}

// SeedMetadata makes the metadata store publish segs and rules as a Druid cluster would have: Druid's own tables
// (metadata.CreateTables, the current column set) when they are missing, a used row for each segment, and each
// rules entry. It can run any number of times: the rows of the seeded dataSources are replaced, and a rules entry
// already there (same dataSource and version) is kept.
func SeedMetadata(ctx context.Context, conn *pgx.Conn, tables configs.MetadataTables, segs []*segments.DataSegment, rules ...Rules) error {
	segTable, rulesTable := tables.Segments(), tables.Rules()
	var haveSegs, haveRules bool
	// to_regclass resolves the names as Druid's unquoted statements do: folded to lower case, on the search_path.
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL", segTable, rulesTable).
		Scan(&haveSegs, &haveRules); err != nil {
		return fmt.Errorf("looking for the tables %s and %s: %w", segTable, rulesTable, err)
	}
	switch {
	case !haveSegs && !haveRules:
		if err := metadata.CreateTables(ctx, conn, tables, metadata.VariantCurrent); err != nil {
			return err
		}
	case haveSegs != haveRules:
		return fmt.Errorf("the database has only one of %s and %s, which a Druid cluster creates together; "+
			"drop the database to let the sandbox create it again", segTable, rulesTable)
	}

	var dataSources []string
	seen := map[string]bool{}
	recs := make([]metadata.SegmentRecord, 0, len(segs))
	for _, s := range segs {
		if !seen[s.DataSource] {
			seen[s.DataSource] = true
			dataSources = append(dataSources, s.DataSource)
		}
		recs = append(recs, metadata.SegmentRecord{Segment: s, Used: true})
	}
	// Replacing the dataSources' rows, rather than adding the missing ones, also removes what an earlier seeding
	// with other settings left there.
	if _, err := conn.Exec(ctx, "DELETE FROM "+segTable+" WHERE datasource = ANY($1)", dataSources); err != nil {
		return fmt.Errorf("removing the earlier rows of %v from %s: %w", dataSources, segTable, err)
	}
	if err := metadata.InsertSegment(ctx, conn, tables, recs...); err != nil {
		return fmt.Errorf("writing %d segments to %s: %w", len(recs), segTable, err)
	}
	for _, r := range rules {
		id := r.DataSource + "_" + segments.InstantOf(r.Version).String()
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+rulesTable+" WHERE id = $1)", id).Scan(&exists); err != nil {
			return fmt.Errorf("looking for the rules %s in %s: %w", id, rulesTable, err)
		}
		if exists {
			continue
		}
		if err := metadata.InsertRules(ctx, conn, tables, r.DataSource, r.Version, r.Payload); err != nil {
			return err
		}
	}
	return nil
}
