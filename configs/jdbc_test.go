package configs

import (
	"strings"
	"testing"
	"time"
)

func metadata(uri string) MetadataConfig {
	return MetadataConfig{Type: "postgresql", ConnectURI: uri, User: "druid", Password: NewSecret(`pa'ss\word`)}
}

func TestPgxConfig(t *testing.T) {
	t.Run("the Historical's URI", func(t *testing.T) {
		c := loadHistorical(t)
		cfg, notes, err := c.Metadata.PgxConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "127.0.0.20" || cfg.Port != 5432 || cfg.Database != "druid" || cfg.User != "druid" ||
			cfg.Password != "pg-s3cr3t" || cfg.RuntimeParams["application_name"] != "druid" ||
			cfg.ConnectTimeout != 10*time.Second || len(notes) != 0 {
			t.Errorf("config = %s:%d/%s user %s app %q timeout %v, notes %q", cfg.Host, cfg.Port, cfg.Database, cfg.User,
				cfg.RuntimeParams["application_name"], cfg.ConnectTimeout, notes)
		}
		if cfg.TLSConfig == nil || !cfg.TLSConfig.InsecureSkipVerify || len(cfg.Fallbacks) != 0 {
			t.Errorf("sslmode=require gives TLS %+v, fallbacks %d", cfg.TLSConfig, len(cfg.Fallbacks))
		}
	})

	tests := []struct {
		name  string
		uri   string
		check func(t *testing.T, host string, port uint16, db string, tlsVerify, tlsOn bool, fallbacks int, params map[string]string, notes []string)
	}{
		{"no host means localhost", "jdbc:postgresql:druid", func(t *testing.T, host string, port uint16, db string, verify, tlsOn bool, fb int, _ map[string]string, _ []string) {
			if host != "localhost" || port != 5432 || db != "druid" || !tlsOn || verify || fb != 1 {
				t.Errorf("%s:%d/%s tls %v verify %v fallbacks %d; want prefer's TLS then plain fallback", host, port, db, tlsOn, verify, fb)
			}
		}},
		{"ssl=true verifies like the JDBC driver", "jdbc:postgresql://127.0.0.21:6432/meta?ssl=true", func(t *testing.T, host string, port uint16, db string, verify, tlsOn bool, fb int, _ map[string]string, _ []string) {
			if host != "127.0.0.21" || port != 6432 || db != "meta" || !verify || fb != 0 {
				t.Errorf("%s:%d/%s verify %v fallbacks %d", host, port, db, verify, fb)
			}
		}},
		{"NonValidatingFactory", "jdbc:postgresql://127.0.0.21/meta?ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory", func(t *testing.T, _ string, port uint16, _ string, verify, tlsOn bool, fb int, _ map[string]string, notes []string) {
			if port != 5432 || verify || !tlsOn || fb != 0 || len(notes) != 0 {
				t.Errorf("port %d verify %v tls %v fallbacks %d notes %q", port, verify, tlsOn, fb, notes)
			}
		}},
		{"sslmode=disable", "jdbc:postgresql://127.0.0.21/meta?sslmode=disable&ssl=true", func(t *testing.T, _ string, _ uint16, _ string, _, tlsOn bool, fb int, _ map[string]string, _ []string) {
			if tlsOn || fb != 0 {
				t.Errorf("tls %v fallbacks %d", tlsOn, fb)
			}
		}},
		{"several hosts, IPv6, escaped database", "jdbc:postgresql://127.0.0.22:5433,[::1]:5434/my%20db?sslmode=disable", func(t *testing.T, host string, port uint16, db string, _, _ bool, fb int, _ map[string]string, _ []string) {
			if host != "127.0.0.22" || port != 5433 || db != "my db" || fb != 1 {
				t.Errorf("%s:%d/%q fallbacks %d", host, port, db, fb)
			}
		}},
		{"mapped and ignored parameters", "jdbc:postgresql://127.0.0.23/druid?sslmode=disable&currentSchema=druid&ApplicationName=druid%20sidecar&connectTimeout=3&socketTimeout=30&tcpKeepAlive=true&targetServerType=primary", func(t *testing.T, _ string, _ uint16, _ string, _, _ bool, _ int, params map[string]string, notes []string) {
			if params["search_path"] != "druid" || params["application_name"] != "druid sidecar" {
				t.Errorf("runtime params = %v", params)
			}
			want := "JDBC parameter socketTimeout is ignored: pgx has no equivalent\nJDBC parameter tcpKeepAlive is ignored: pgx has no equivalent"
			if strings.Join(notes, "\n") != want {
				t.Errorf("notes = %q", notes)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, notes, err := metadata(tt.uri).PgxConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Password != `pa'ss\word` {
				t.Errorf("password not passed through")
			}
			verify := cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify
			tt.check(t, cfg.Host, cfg.Port, cfg.Database, verify, cfg.TLSConfig != nil, len(cfg.Fallbacks), cfg.RuntimeParams, notes)
		})
	}
}

func TestPgxConfigTimeoutAndTarget(t *testing.T) {
	cfg, _, err := metadata("jdbc:postgresql://127.0.0.23/druid?sslmode=disable&connectTimeout=3&targetServerType=primary").PgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnectTimeout != 3*time.Second || cfg.ValidateConnect == nil {
		t.Errorf("timeout %v, validate %v", cfg.ConnectTimeout, cfg.ValidateConnect != nil)
	}
}

func TestPgxConfigUserFromURI(t *testing.T) {
	m := MetadataConfig{Type: "postgresql", ConnectURI: "jdbc:postgresql://127.0.0.23/druid?user=uri_user&password=uri_pw&sslmode=disable"}
	cfg, _, err := m.PgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "uri_user" || cfg.Password != "uri_pw" {
		t.Errorf("user %q password %q", cfg.User, cfg.Password)
	}
	m.User, m.Password = "druid", NewSecret("keys-win")
	if cfg, _, _ = m.PgxConfig(); cfg.User != "druid" || cfg.Password != "keys-win" {
		t.Errorf("connector keys lose: user %q password %q", cfg.User, cfg.Password)
	}
}

func TestPgxConfigErrors(t *testing.T) {
	tests := []struct {
		m    MetadataConfig
		want string
	}{
		{MetadataConfig{Type: "mysql", ConnectURI: "jdbc:mysql://db:3306/druid"},
			`druid.metadata.storage.type: "mysql" metadata stores are not supported yet; druid-sidecar reads postgresql`},
		{MetadataConfig{Type: "derby"},
			`druid.metadata.storage.type: "derby" metadata stores are not supported yet; druid-sidecar reads postgresql`},
		{metadata("jdbc:mysql://db:3306/druid"),
			`druid.metadata.storage.connector.connectURI: "mysql" metadata stores are not supported yet; druid-sidecar reads jdbc:postgresql:… URIs`},
		{metadata("jdbc:derby://localhost:1527/var/druid/metadata.db;create=true"),
			`druid.metadata.storage.connector.connectURI: "derby" metadata stores are not supported yet; druid-sidecar reads jdbc:postgresql:… URIs`},
		{metadata(""), "druid.metadata.storage.connector.connectURI: not set; expected a JDBC URI such as jdbc:postgresql://db:5432/druid?sslmode=require"},
		{metadata("postgres://db/druid"), "druid.metadata.storage.connector.connectURI: expected a JDBC URI such as jdbc:postgresql://db:5432/druid?sslmode=require"},
		{metadata("jdbc:postgresql://db:5432"), "druid.metadata.storage.connector.connectURI: expected a / after the host and port, as in jdbc:postgresql://db:5432/druid?sslmode=require"},
		{metadata("jdbc:postgresql://db:port/druid"), `druid.metadata.storage.connector.connectURI: bad host:port "db:port" in the JDBC URI`},
		{metadata("jdbc:postgresql://::1/druid"), `druid.metadata.storage.connector.connectURI: bad host "::1"; write IPv6 addresses in brackets, [::1]:5432`},
		{metadata("jdbc:postgresql://db/druid?sslmode=strict"), "druid.metadata.storage.connector.connectURI: sslmode=strict: expected one of disable, allow, prefer, require, verify-ca, verify-full"},
		{metadata("jdbc:postgresql://db/druid?connectTimeout=soon"), "druid.metadata.storage.connector.connectURI: connectTimeout=soon: expected a whole number of seconds"},
		{metadata("jdbc:postgresql://db/druid?targetServerType=fastest"), "druid.metadata.storage.connector.connectURI: targetServerType=fastest: expected any, primary, secondary or preferSecondary"},
	}
	for _, tt := range tests {
		_, _, err := tt.m.PgxConfig()
		if err == nil || err.Error() != tt.want {
			t.Errorf("PgxConfig(%q) = %v\nwant %s", tt.m.ConnectURI, err, tt.want)
		}
	}
	_, _, err := metadata("jdbc:postgresql://db/druid?sslmode=verify-full&sslrootcert=/nonexistent/root.crt").PgxConfig()
	if err == nil || !strings.HasPrefix(err.Error(), "druid.metadata.storage.connector.connectURI: pgx cannot use it: ") ||
		strings.Contains(err.Error(), "word") {
		t.Errorf("missing root certificate: %v", err)
	}
}

func TestLoadDoesNotCheckTheMetadataURI(t *testing.T) {
	c, err := Load(LoadOptions{Environ: []string{}, Sets: []string{
		"druid.metadata.storage.type=mysql", "druid.metadata.storage.connector.connectURI=jdbc:mysql://db:3306/druid"}})
	if err != nil {
		t.Fatalf("Load checks the metadata store that only audit needs: %v", err)
	}
	if _, _, err := c.Metadata.PgxConfig(); err == nil {
		t.Error("PgxConfig accepts MySQL")
	}
}
