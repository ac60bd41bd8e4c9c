package configs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
			`druid.metadata.storage.type: "mysql" is not a postgresql metadata store`},
		{MetadataConfig{Type: "derby"},
			`druid.metadata.storage.type: "derby" metadata stores are not supported; druid-sidecar reads postgresql and mysql (MySQL and MariaDB)`},
		{metadata("jdbc:mysql://db:3306/druid"),
			`druid.metadata.storage.connector.connectURI: a jdbc:mysql: URI while druid.metadata.storage.type is postgresql; druid-sidecar reads jdbc:postgresql: URIs there`},
		{metadata("jdbc:derby://localhost:1527/var/druid/metadata.db;create=true"),
			`druid.metadata.storage.connector.connectURI: a jdbc:derby: URI while druid.metadata.storage.type is postgresql; druid-sidecar reads jdbc:postgresql: URIs there`},
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

func mysqlMeta(uri string) MetadataConfig {
	return MetadataConfig{Type: "mysql", ConnectURI: uri, User: "druid", Password: NewSecret("pa'ss@wo:rd")}
}

func TestMySQLConfigs(t *testing.T) {
	type host struct{ addr, user, pass string }
	tests := []struct {
		name  string
		m     MetadataConfig
		ssl   MySQLSSLConfig
		hosts []host
		db    string
		tls   string // "", "skip-verify", "verify-ca", "verify-full"
		notes string
	}{
		{"Druid's documented form", mysqlMeta("jdbc:mysql://127.0.0.30:3306/druid"), MySQLSSLConfig{},
			[]host{{"127.0.0.30:3306", "druid", "pa'ss@wo:rd"}}, "druid", "", ""},
		{"default port, MariaDB driver, escaped database", mysqlMeta("jdbc:mariadb://db.example/my%20druid"), MySQLSSLConfig{},
			[]host{{"db.example:3306", "druid", "pa'ss@wo:rd"}}, "my druid", "", ""},
		{"failover hosts, IPv6", mysqlMeta("jdbc:mysql://127.0.0.31:3307,[::1]:3308,[::2]/druid"), MySQLSSLConfig{},
			[]host{{"127.0.0.31:3307", "druid", "pa'ss@wo:rd"}, {"[::1]:3308", "druid", "pa'ss@wo:rd"}, {"[::2]:3306", "druid", "pa'ss@wo:rd"}},
			"druid", "", ""},
		{"Connector/J's bracketed list and a load-balanced URI", mysqlMeta("jdbc:mysql:loadbalance://[h1:1,h2:2]/druid"), MySQLSSLConfig{},
			[]host{{"h1:1", "druid", "pa'ss@wo:rd"}, {"h2:2", "druid", "pa'ss@wo:rd"}}, "druid", "",
			"jdbc:mysql:loadbalance: the hosts are tried in the URI's order, for reads only"},
		{"credentials in the URI when the keys are empty",
			MetadataConfig{Type: "mysql", ConnectURI: "jdbc:mysql://u1:p%401@h1,(host=h2,port=3310,user=u2,password=p2),address=(host=h3)(port=3311)(user=u3)/druid?user=u0&password=p0"},
			MySQLSSLConfig{}, []host{{"h1:3306", "u1", "p@1"}, {"h2:3310", "u2", "p2"}, {"h3:3311", "u3", "p0"}}, "druid", "", ""},
		{"useSSL key: encrypted, not verified", mysqlMeta("jdbc:mysql://h/druid"), MySQLSSLConfig{UseSSL: true},
			[]host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "skip-verify", ""},
		{"verifyServerCertificate key: the chain only", mysqlMeta("jdbc:mysql://h/druid"),
			MySQLSSLConfig{UseSSL: true, VerifyServerCertificate: true},
			[]host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "verify-ca", ""},
		{"the URI wins over the keys", mysqlMeta("jdbc:mysql://h/druid?useSSL=false"), MySQLSSLConfig{UseSSL: true},
			[]host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "", ""},
		{"sslMode wins over useSSL", mysqlMeta("jdbc:mysql://h/druid?useSSL=false&sslMode=VERIFY_IDENTITY"), MySQLSSLConfig{},
			[]host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "verify-full", ""},
		{"MariaDB's sslMode and trustServerCertificate", mysqlMeta("jdbc:mariadb://h/druid?sslMode=verify-full&trustServerCertificate=true"),
			MySQLSSLConfig{}, []host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "verify-full", ""},
		{"requireSSL, ignored and harmless parameters", mysqlMeta("jdbc:mysql://h/druid?requireSSL=true&characterEncoding=UTF-8&serverTimezone=UTC&rewriteBatchedStatements=true"),
			MySQLSSLConfig{}, []host{{"h:3306", "druid", "pa'ss@wo:rd"}}, "druid", "skip-verify",
			"JDBC parameter serverTimezone is ignored: the Go MySQL driver has no equivalent\n" +
				"JDBC parameter rewriteBatchedStatements is ignored: the Go MySQL driver has no equivalent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs, notes, err := tt.m.MySQLConfigs(tt.ssl)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfgs) != len(tt.hosts) {
				t.Fatalf("%d configs, want %d", len(cfgs), len(tt.hosts))
			}
			for i, c := range cfgs {
				if h := tt.hosts[i]; c.Addr != h.addr || c.User != h.user || c.Passwd != h.pass || c.DBName != tt.db || c.Net != "tcp" {
					t.Errorf("host %d: %s user %q password %q database %q, want %+v %q", i, c.Addr, c.User, c.Passwd, c.DBName, h, tt.db)
				}
				if c.Timeout != 10*time.Second || !c.InterpolateParams {
					t.Errorf("host %d: timeout %v interpolate %v", i, c.Timeout, c.InterpolateParams)
				}
				got := ""
				switch {
				case c.TLS == nil:
				case !c.TLS.InsecureSkipVerify:
					got = "verify-full"
				case c.TLS.VerifyConnection != nil:
					got = "verify-ca"
				default:
					got = "skip-verify"
				}
				if got != tt.tls {
					t.Errorf("host %d: TLS %q, want %q", i, got, tt.tls)
				}
			}
			if strings.Join(notes, "\n") != tt.notes {
				t.Errorf("notes = %q", notes)
			}
		})
	}
}

func TestMySQLConfigsTimeoutsAndTLSOptions(t *testing.T) {
	ssl := MySQLSSLConfig{UseSSL: true, enabledSSLCipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		enabledTLSProtocols: []string{"TLSv1.3", "TLSv1.2"}}
	cfgs, _, err := mysqlMeta("jdbc:mysql://h/druid?connectTimeout=2500&socketTimeout=60000").MySQLConfigs(ssl)
	if err != nil {
		t.Fatal(err)
	}
	c := cfgs[0]
	if c.Timeout != 2500*time.Millisecond || c.ReadTimeout != time.Minute || c.WriteTimeout != time.Minute {
		t.Errorf("timeouts %v %v %v", c.Timeout, c.ReadTimeout, c.WriteTimeout)
	}
	if c.TLS.MinVersion != tls.VersionTLS12 || c.TLS.MaxVersion != tls.VersionTLS13 ||
		!slices.Equal(c.TLS.CipherSuites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("TLS versions %x-%x, suites %x", c.TLS.MinVersion, c.TLS.MaxVersion, c.TLS.CipherSuites)
	}
	// The keys, given as Druid reads them, reach MySQLSSLConfig.
	cfg, err := Load(LoadOptions{Environ: []string{}, Sets: []string{
		"druid.metadata.mysql.ssl.useSSL=true", "druid.metadata.mysql.ssl.verifyServerCertificate=true",
		`druid.metadata.mysql.ssl.enabledTLSProtocols=["TLSv1.2"]`,
		`druid.metadata.mysql.ssl.enabledSSLCipherSuites=["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]`,
		"druid.metadata.mysql.ssl.trustCertificateKeyStorePassword=S1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.MySQLSSL
	if !got.UseSSL || !got.VerifyServerCertificate || !slices.Equal(got.EnabledTLSProtocols(), []string{"TLSv1.2"}) ||
		!slices.Equal(got.EnabledSSLCipherSuites(), []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}) ||
		got.TrustCertificateKeyStorePassword.Reveal() != "S1" {
		t.Errorf("druid.metadata.mysql.ssl.* read as %+v", got)
	}
}

// writePEMs writes a self-signed CA and a client certificate with its key, as PEM files.
func writePEMs(t *testing.T) (ca, client string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "druid-sidecar test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	dir := t.TempDir()
	ca, client = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem")
	if err := os.WriteFile(ca, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	both := append(cert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	if err := os.WriteFile(client, both, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca, client
}

func TestMySQLConfigsKeyStores(t *testing.T) {
	ca, client := writePEMs(t)
	ssl := MySQLSSLConfig{UseSSL: true, VerifyServerCertificate: true, TrustCertificateKeyStoreURL: ca,
		ClientCertificateKeyStoreURL: client}
	cfgs, _, err := mysqlMeta("jdbc:mysql://h/druid").MySQLConfigs(ssl)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfgs[0].TLS; c.RootCAs == nil || len(c.Certificates) != 1 || c.VerifyConnection == nil {
		t.Errorf("TLS roots %v, %d certificates", c.RootCAs != nil, len(c.Certificates))
	}
	// The same files given in the URI, as file: URLs.
	if _, _, err := mysqlMeta("jdbc:mysql://h/druid?sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file://" + ca +
		"&clientCertificateKeyStoreUrl=file:" + client).MySQLConfigs(MySQLSSLConfig{}); err != nil {
		t.Error(err)
	}

	jks := filepath.Join(t.TempDir(), "truststore.jks")
	if err := os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ssl  MySQLSSLConfig
		uri  string
		want string
	}{
		{MySQLSSLConfig{UseSSL: true, TrustCertificateKeyStoreURL: jks, TrustCertificateKeyStorePassword: NewSecret("tr-s3cr3t")}, "",
			"druid.metadata.mysql.ssl.trustCertificateKeyStoreUrl: " + jks + " is not a PEM file; druid-sidecar reads PEM"},
		{MySQLSSLConfig{UseSSL: true, ClientCertificateKeyStoreURL: ca}, "",
			"druid.metadata.mysql.ssl.clientCertificateKeyStoreUrl: is not a PEM certificate chain with its private key"},
		{MySQLSSLConfig{UseSSL: true, ClientCertificateKeyStoreURL: jks + ".missing"}, "",
			"druid.metadata.mysql.ssl.clientCertificateKeyStoreUrl: open " + jks + ".missing: no such file"},
		{MySQLSSLConfig{}, "?useSSL=true&trustCertificateKeyStoreUrl=" + jks,
			"druid.metadata.storage.connector.connectURI: JDBC parameter trustCertificateKeyStoreUrl: " + jks + " is not a PEM file"},
		{MySQLSSLConfig{UseSSL: true, enabledSSLCipherSuites: []string{"SSL_RSA_WITH_RC4_128_MD5"}}, "",
			`druid.metadata.mysql.ssl.enabledSSLCipherSuites: unknown cipher suite "SSL_RSA_WITH_RC4_128_MD5"`},
		{MySQLSSLConfig{UseSSL: true, enabledTLSProtocols: []string{"SSLv3"}}, "",
			`druid.metadata.mysql.ssl.enabledTLSProtocols: unknown protocol "SSLv3"`},
		// TLS off: the stores are not read at all, as the driver does not.
		{MySQLSSLConfig{TrustCertificateKeyStoreURL: jks}, "", ""},
	} {
		_, _, err := mysqlMeta("jdbc:mysql://h/druid" + tc.uri).MySQLConfigs(tc.ssl)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.ssl, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error %v\nwant it to start with %s", err, tc.want)
		}
	}
}

func TestMySQLConfigsErrors(t *testing.T) {
	tests := []struct {
		m    MetadataConfig
		want string
	}{
		{MetadataConfig{Type: "postgresql", ConnectURI: "jdbc:mysql://db/druid"}, `druid.metadata.storage.type: "postgresql" is not a mysql metadata store`},
		{MetadataConfig{Type: "derby"}, `druid.metadata.storage.type: "derby" metadata stores are not supported; druid-sidecar reads postgresql and mysql (MySQL and MariaDB)`},
		{mysqlMeta("jdbc:postgresql://db/druid"), "druid.metadata.storage.connector.connectURI: a jdbc:postgresql: URI while druid.metadata.storage.type is mysql; druid-sidecar reads jdbc:mysql: and jdbc:mariadb: URIs there"},
		{mysqlMeta(""), "druid.metadata.storage.connector.connectURI: expected a MySQL JDBC URI such as jdbc:mysql://db:3306/druid"},
		{mysqlMeta("jdbc:mysql:db/druid"), "druid.metadata.storage.connector.connectURI: expected a MySQL JDBC URI such as jdbc:mysql://db:3306/druid"},
		{mysqlMeta("jdbc:mysql://db:3306"), "druid.metadata.storage.connector.connectURI: no database after the hosts; expected a URI such as jdbc:mysql://db:3306/druid"},
		{mysqlMeta("jdbc:mysql://db:3306/"), "druid.metadata.storage.connector.connectURI: no database after the hosts; expected a URI such as jdbc:mysql://db:3306/druid"},
		{mysqlMeta("jdbc:mysql:fabric://db/druid"), `druid.metadata.storage.connector.connectURI: "fabric" is not a connection type of the mysql driver (loadbalance, replication)`},
		{mysqlMeta("jdbc:mysql+srv://_mysql._tcp.example/druid"), "druid.metadata.storage.connector.connectURI: jdbc:mysql+srv: URIs (hosts from DNS SRV records) are not supported; list the hosts, as in jdbc:mysql://db:3306/druid"},
		{mysqlMeta("jdbc:mysql://db:port/druid"), `druid.metadata.storage.connector.connectURI: bad host:port "db:port" in the JDBC URI`},
		{mysqlMeta("jdbc:mysql://::1/druid"), `druid.metadata.storage.connector.connectURI: bad host "::1"; write IPv6 addresses in brackets, [::1]:3306`},
		{mysqlMeta("jdbc:mysql://address=(host=db(port=1)/druid"), `druid.metadata.storage.connector.connectURI: no database after the hosts; expected a URI such as jdbc:mysql://db:3306/druid`},
		{mysqlMeta("jdbc:mysql://address=(host=db)port=1/druid"), `druid.metadata.storage.connector.connectURI: expected address=(host=…)(port=…) with each key=value in parentheses`},
		{mysqlMeta("jdbc:mysql://db/druid?sslMode=STRICT"), "druid.metadata.storage.connector.connectURI: sslMode=STRICT: expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"},
		{mysqlMeta("jdbc:mysql://db/druid?useSSL=maybe"), "druid.metadata.storage.connector.connectURI: useSSL=maybe: expected true or false"},
		{mysqlMeta("jdbc:mysql://db/druid?connectTimeout=5s"), "druid.metadata.storage.connector.connectURI: connectTimeout=5s: expected a whole number of milliseconds"},
	}
	for _, tt := range tests {
		_, _, err := tt.m.MySQLConfigs(MySQLSSLConfig{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("MySQLConfigs(%q) = %v\nwant %s", tt.m.ConnectURI, err, tt.want)
		}
	}
}

// What the connector reports about a MySQL URI never quotes a password, and `config print` redacts the MySQL
// passwords wherever they are.
func TestMySQLPasswordsNeverShow(t *testing.T) {
	for _, uri := range []string{
		"jdbc:mysql://druid:S1%zz@db:3306/druid",
		"jdbc:mysql://db:3306/druid?password=S1%zz",
		"jdbc:mysql://(host=db,port=x,password=S1)/druid",
		"jdbc:mysql://address=(host=db)(password=S1)(port=x)/druid",
	} {
		_, _, err := mysqlMeta(uri).MySQLConfigs(MySQLSSLConfig{})
		if err == nil || strings.Contains(err.Error(), "S1") {
			t.Errorf("%s: error %v", uri, err)
		}
	}
	c, err := Load(LoadOptions{Environ: []string{}, Sets: []string{
		"druid.metadata.storage.type=mysql",
		"druid.metadata.storage.connector.connectURI=jdbc:mysql://u:pw-1@db:3306,(host=db2,password=pw-2)/druid?trustCertificateKeyStorePassword=pw-3&password=pw-4",
		"druid.metadata.storage.connector.password=pw-5",
		"druid.metadata.mysql.ssl.trustCertificateKeyStorePassword=pw-6",
		"druid.metadata.mysql.ssl.clientCertificateKeyStorePassword=pw-7",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range c.Entries() {
		b.WriteString(e.Key + "=" + e.Value + "\n")
	}
	if m := regexp.MustCompile(`pw-[0-9]`).FindAllString(b.String(), -1); m != nil {
		t.Errorf("passwords show: %v", m)
	}
}
