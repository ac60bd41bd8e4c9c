package configs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

const connectURIKey = "druid.metadata.storage.connector.connectURI"

// PgxConfig translates the metadata store's JDBC URI and credentials into a pgx connection config.
//
// It reads jdbc:postgresql://host[:port][,host[:port]…]/database[?param=value&…] (also jdbc:postgresql:database,
// which means localhost:5432) and maps the PostgreSQL JDBC driver's parameters to libpq's:
//
//   - sslmode as is; without it, ssl=true (or a bare ssl) means verify-full, as in the JDBC driver (libpq's
//     require would skip the certificate check), and require when sslfactory is the NonValidatingFactory;
//     otherwise prefer, the JDBC default.
//   - sslrootcert, sslcert, sslkey, sslpassword as is (pgx reads PEM keys, the JDBC driver PKCS-8 DER .pk8 files).
//   - connectTimeout (seconds, default 10 as in the JDBC driver) → connect_timeout.
//   - ApplicationName → application_name, currentSchema → search_path, options → options,
//     targetServerType → target_session_attrs.
//   - user and password are used when the connector keys do not set them.
//
// Every other parameter is ignored and named in the returned notes. The PG* environment variables and
// ~/.pgpass still fill what the URI leaves out, as pgx does everywhere. Derby and other stores are an error naming
// the key (MySQLConfigs reads MySQL).
func (m MetadataConfig) PgxConfig() (*pgx.ConnConfig, []string, error) {
	if err := m.checkType("postgresql"); err != nil {
		return nil, nil, err
	}
	j, err := parseJDBC(m.ConnectURI)
	if err != nil {
		return nil, nil, Problem{Key: connectURIKey, Msg: err.Error()}
	}
	settings, password, notes, err := j.libpqSettings(m)
	if err != nil {
		return nil, nil, Problem{Key: connectURIKey, Msg: err.Error()}
	}
	cfg, err := pgx.ParseConfig(settings.dsn())
	if err != nil {
		return nil, nil, Problem{Key: connectURIKey, Msg: "pgx cannot use it: " + err.Error()}
	}
	if password != "" {
		cfg.Password = password
	}
	return cfg, notes, nil
}

type jdbcURI struct {
	hosts  []string // host:port, IPv6 bracketed
	dbname string
	params [][2]string
}

const jdbcExample = "jdbc:postgresql://db:5432/druid?sslmode=require"

func parseJDBC(uri string) (jdbcURI, error) {
	var j jdbcURI
	if uri == "" {
		return j, fmt.Errorf("not set; expected a JDBC URI such as %s", jdbcExample)
	}
	rest, ok := strings.CutPrefix(uri, "jdbc:")
	if !ok {
		return j, fmt.Errorf("expected a JDBC URI such as %s", jdbcExample)
	}
	sub, rest, _ := strings.Cut(rest, ":")
	if sub != "postgresql" {
		return j, fmt.Errorf("a jdbc:%s: URI while druid.metadata.storage.type is postgresql; druid-sidecar reads "+
			"jdbc:postgresql: URIs there", strings.Trim(quoteValue(sub), `"`))
	}
	rest, query, _ := strings.Cut(rest, "?")
	if hostsPart, ok := strings.CutPrefix(rest, "//"); ok {
		var db string
		hostsPart, db, ok = strings.Cut(hostsPart, "/")
		if !ok {
			return j, fmt.Errorf("expected a / after the host and port, as in %s", jdbcExample)
		}
		for h := range strings.SplitSeq(hostsPart, ",") {
			hp, err := jdbcHost(h)
			if err != nil {
				return j, err
			}
			j.hosts = append(j.hosts, hp)
		}
		rest = db
	} else {
		j.hosts = []string{"localhost:5432"}
		rest = strings.TrimPrefix(rest, "/")
	}
	db, err := url.QueryUnescape(rest)
	if err != nil {
		return j, fmt.Errorf("bad %%-escape in the database name: %v", err)
	}
	j.dbname = db
	j.params, err = parseQuery(query)
	if err != nil {
		return j, err
	}
	return j, nil
}

func jdbcHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in the host list; expected a URI such as %s", jdbcExample)
	}
	if strings.Contains(h, "@") {
		// Not quoted: what comes before the @ is a user name and maybe a password.
		return "", errors.New("a user:password@ before the host is not read by the PostgreSQL JDBC driver; give the " +
			"user and password parameters, or druid.metadata.storage.connector.user and password")
	}
	host, p, err := net.SplitHostPort(h)
	if err != nil {
		host, p = strings.Trim(h, "[]"), "5432"
		if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
			return "", fmt.Errorf("bad host %s; write IPv6 addresses in brackets, [::1]:5432", quoteValue(h))
		}
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || host == "" {
		return "", fmt.Errorf("bad host:port %s in the JDBC URI", quoteValue(h))
	}
	return net.JoinHostPort(host, p), nil
}

// libpqSettings is an ordered keyword/value connection string.
type libpqSettings [][2]string

func (s libpqSettings) dsn() string {
	parts := make([]string, len(s))
	for i, kv := range s {
		v := strings.ReplaceAll(strings.ReplaceAll(kv[1], `\`, `\\`), `'`, `\'`)
		parts[i] = kv[0] + "='" + v + "'"
	}
	return strings.Join(parts, " ")
}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func (j jdbcURI) libpqSettings(m MetadataConfig) (libpqSettings, string, []string, error) {
	param := func(name string) (string, bool) {
		for i := len(j.params) - 1; i >= 0; i-- { // the last occurrence wins
			if j.params[i][0] == name {
				return j.params[i][1], true
			}
		}
		return "", false
	}
	var hosts, ports []string
	for _, hp := range j.hosts {
		h, p, _ := net.SplitHostPort(hp)
		hosts, ports = append(hosts, h), append(ports, p)
	}
	s := libpqSettings{{"host", strings.Join(hosts, ",")}, {"port", strings.Join(ports, ",")}, {"dbname", j.dbname}}

	user := m.User
	if user == "" {
		user, _ = param("user")
	}
	if user != "" {
		s = append(s, [2]string{"user", user})
	}
	password := m.Password.Reveal()
	if password == "" {
		password, _ = param("password")
	}

	mode, ok := param("sslmode")
	switch {
	case ok:
		if !slices.Contains(sslModes, mode) {
			return nil, "", nil, fmt.Errorf("sslmode=%s: expected one of %s", mode, strings.Join(sslModes, ", "))
		}
	default:
		mode = "prefer"
		if ssl, ok := param("ssl"); ok && ssl != "false" {
			mode = "verify-full"
			if f, _ := param("sslfactory"); f == "org.postgresql.ssl.NonValidatingFactory" {
				mode = "require"
			}
		}
	}
	s = append(s, [2]string{"sslmode", mode})

	timeout := "10"
	if t, ok := param("connectTimeout"); ok {
		if n, err := strconv.Atoi(t); err != nil || n < 0 {
			return nil, "", nil, fmt.Errorf("connectTimeout=%s: expected a whole number of seconds", t)
		}
		timeout = t
	}
	s = append(s, [2]string{"connect_timeout", timeout})

	var notes []string
	seen := map[string]bool{}
	for _, kv := range j.params {
		name := kv[0]
		if seen[name] {
			continue
		}
		seen[name] = true
		v, _ := param(name)
		switch name {
		case "user", "password", "ssl", "sslmode", "sslfactory", "connectTimeout":
			// handled above
		case "sslrootcert", "sslcert", "sslpassword", "options":
			s = append(s, [2]string{name, v})
		case "sslkey":
			s = append(s, [2]string{name, v})
			if strings.HasSuffix(v, ".pk8") {
				notes = append(notes, "sslkey "+v+" looks like a PKCS-8 DER key (the JDBC driver's format); pgx reads PEM keys")
			}
		case "ApplicationName":
			s = append(s, [2]string{"application_name", v})
		case "currentSchema":
			s = append(s, [2]string{"search_path", v})
		case "targetServerType":
			tsa, ok := map[string]string{"any": "any", "primary": "primary", "master": "primary",
				"secondary": "standby", "slave": "standby", "preferSecondary": "prefer-standby",
				"preferSlave": "prefer-standby", "preferPrimary": "any"}[v]
			if !ok {
				return nil, "", nil, fmt.Errorf("targetServerType=%s: expected any, primary, secondary or preferSecondary", v)
			}
			s = append(s, [2]string{"target_session_attrs", tsa})
		default:
			notes = append(notes, fmt.Sprintf("JDBC parameter %s is ignored: pgx has no equivalent", name))
		}
	}
	if f, ok := param("sslfactory"); ok && f != "org.postgresql.ssl.NonValidatingFactory" {
		notes = append(notes, "JDBC parameter sslfactory="+f+" is ignored: pgx verifies as sslmode="+mode+" says")
	}
	return s, password, notes, nil
}

// checkType refuses a druid.metadata.storage.type other than want: a store druid-sidecar does not read, or the
// other one it reads.
func (m MetadataConfig) checkType(want string) error {
	switch m.Type {
	case want:
		return nil
	case "postgresql", "mysql":
		return Problem{Key: "druid.metadata.storage.type", Msg: fmt.Sprintf("%s is not a %s metadata store", quoteValue(m.Type), want)}
	}
	return Problem{Key: "druid.metadata.storage.type", Msg: fmt.Sprintf(
		"%s metadata stores are not supported; druid-sidecar reads postgresql and mysql (MySQL and MariaDB)", quoteValue(m.Type))}
}

// ---- MySQL (and MariaDB) ---------------------------------------------------------------------------------------

const mysqlExample = "jdbc:mysql://db:3306/druid"

// MySQLSSLConfig is druid.metadata.mysql.ssl.* (Druid's MySQLConnectorSslConfig), which Druid hands to the JDBC
// driver as connection properties.
type MySQLSSLConfig struct {
	UseSSL                  bool
	VerifyServerCertificate bool
	// The key store "URLs" are file paths (Druid turns them into file: URIs); druid-sidecar reads PEM files there.
	TrustCertificateKeyStoreURL       string
	TrustCertificateKeyStoreType      string
	TrustCertificateKeyStorePassword  Secret
	ClientCertificateKeyStoreURL      string
	ClientCertificateKeyStoreType     string
	ClientCertificateKeyStorePassword Secret
	enabledSSLCipherSuites            []string
	enabledTLSProtocols               []string
}

// EnabledSSLCipherSuites is druid.metadata.mysql.ssl.enabledSSLCipherSuites (a copy).
func (c MySQLSSLConfig) EnabledSSLCipherSuites() []string {
	return slices.Clone(c.enabledSSLCipherSuites)
}

// EnabledTLSProtocols is druid.metadata.mysql.ssl.enabledTLSProtocols (a copy).
func (c MySQLSSLConfig) EnabledTLSProtocols() []string { return slices.Clone(c.enabledTLSProtocols) }

// mysqlURI is a MySQL Connector/J or MariaDB Connector/J URI, read but not yet resolved.
type mysqlURI struct {
	driver  string // mysql or mariadb
	variant string // loadbalance, replication, … ("" for a plain URI)
	hosts   []mysqlHost
	dbname  string
	params  [][2]string
}

// mysqlHost is one host of the URI with its own properties (a user:password@ or the key-value forms' keys).
type mysqlHost struct {
	addr  string // host:port, IPv6 bracketed
	props [][2]string
}

var mysqlVariants = map[string][]string{
	"mysql":   {"loadbalance", "replication"},
	"mariadb": {"replication", "loadbalance", "sequential", "failover", "aurora"},
}

// parseMySQLJDBC reads jdbc:mysql:[variant:]//hosts/database?params and jdbc:mariadb:… as the drivers do: a host
// is host[:port] (port 3306 by default, IPv6 in brackets), user[:password]@host[:port], address=(host=…)(port=…)(…)
// or (host=…,port=…,…), and several hosts are separated by commas (or listed in [ ]). Its errors never quote a
// credential.
func parseMySQLJDBC(uri string) (mysqlURI, error) {
	var u mysqlURI
	bad := fmt.Errorf("expected a MySQL JDBC URI such as %s", mysqlExample)
	rest, ok := strings.CutPrefix(uri, "jdbc:")
	if !ok {
		return u, bad
	}
	u.driver, rest, _ = strings.Cut(rest, ":")
	switch u.driver {
	case "mysql", "mariadb":
	case "mysql+srv":
		return u, errors.New("jdbc:mysql+srv: URIs (hosts from DNS SRV records) are not supported; list the hosts, as in " + mysqlExample)
	default:
		return u, bad
	}
	if !strings.HasPrefix(rest, "//") {
		variant, tail, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(tail, "//") {
			return u, bad
		}
		if !slices.Contains(mysqlVariants[u.driver], variant) {
			return u, fmt.Errorf("%s is not a connection type of the %s driver (%s)", quoteValue(variant), u.driver,
				strings.Join(mysqlVariants[u.driver], ", "))
		}
		u.variant, rest = variant, tail
	}
	rest = rest[2:]
	authority, rest := splitOutside(rest, "/?")
	path, query, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(path, "/") {
		db, err := url.PathUnescape(path[1:])
		if err != nil {
			return u, fmt.Errorf("bad %%-escape in the database name: %v", err)
		}
		u.dbname = db
	}
	if u.dbname == "" {
		return u, fmt.Errorf("no database after the hosts; expected a URI such as %s", mysqlExample)
	}
	items := splitTopLevel(authority, ',')
	if len(items) == 1 && strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") &&
		strings.ContainsAny(authority, ",(@=") {
		items = splitTopLevel(authority[1:len(authority)-1], ',') // Connector/J's [host1,host2] list
	}
	for _, item := range items {
		h, err := parseMySQLHost(item)
		if err != nil {
			return u, err
		}
		u.hosts = append(u.hosts, h)
	}
	params, err := parseQuery(query)
	if err != nil {
		return u, err
	}
	u.params = params
	return u, nil
}

// splitOutside cuts s before the first byte of any of stops that is outside ( ) and [ ].
func splitOutside(s, stops string) (string, string) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth <= 0 && strings.IndexByte(stops, c) >= 0:
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// splitTopLevel splits s at each sep outside ( ) and [ ].
func splitTopLevel(s string, sep byte) []string {
	var out []string
	for {
		head, tail := splitOutside(s, string(sep))
		out = append(out, head)
		if tail == "" {
			return out
		}
		s = tail[1:]
	}
}

// parseQuery reads name=value&… with %-escapes; an error names the parameter, never its value.
func parseQuery(query string) ([][2]string, error) {
	var params [][2]string
	for kv := range strings.SplitSeq(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			// The value is not quoted: it may be a password.
			return nil, fmt.Errorf("bad %%-escape in the value of parameter %s", k)
		}
		params = append(params, [2]string{k, v})
	}
	return params, nil
}

func parseMySQLHost(item string) (mysqlHost, error) {
	var h mysqlHost
	host, port := "", "3306"
	var kv [][2]string
	switch {
	case strings.HasPrefix(item, "address="):
		rest := item[len("address="):]
		for rest != "" {
			if rest[0] != '(' {
				return h, errors.New("expected address=(host=…)(port=…) with each key=value in parentheses")
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return h, errors.New("unclosed parenthesis in an address=(…) host")
			}
			k, v, _ := strings.Cut(rest[1:end], "=")
			kv = append(kv, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			rest = rest[end+1:]
		}
	case strings.HasPrefix(item, "("):
		if !strings.HasSuffix(item, ")") {
			return h, errors.New("unclosed parenthesis in a (host=…,port=…) host")
		}
		for p := range strings.SplitSeq(item[1:len(item)-1], ",") {
			k, v, _ := strings.Cut(p, "=")
			kv = append(kv, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	default:
		if at := strings.LastIndexByte(item, '@'); at >= 0 {
			user, pw, hasPW := strings.Cut(item[:at], ":")
			user, err := url.PathUnescape(user)
			if err != nil {
				return h, errors.New("bad %-escape in the user name before a host")
			}
			h.props = append(h.props, [2]string{"user", user})
			if hasPW {
				if pw, err = url.PathUnescape(pw); err != nil {
					return h, errors.New("bad %-escape in the password before a host")
				}
				h.props = append(h.props, [2]string{"password", pw})
			}
			item = item[at+1:]
		}
		if item == "" {
			host = "localhost"
			break
		}
		hp, p, err := net.SplitHostPort(item)
		if err != nil {
			hp, p = strings.Trim(item, "[]"), "3306"
			if strings.Contains(item, ":") && !strings.HasPrefix(item, "[") {
				return h, fmt.Errorf("bad host %s; write IPv6 addresses in brackets, [::1]:3306", quoteValue(item))
			}
		}
		host, port = hp, p
	}
	for _, p := range kv {
		switch p[0] {
		case "host":
			host = strings.Trim(p[1], "[]")
		case "port":
			port = p[1]
		case "protocol", "type":
			// tcp, and a replication host's role: what druid-sidecar reads is the same on every host.
		default:
			h.props = append(h.props, p)
		}
	}
	if kv != nil && host == "" {
		host = "localhost"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return h, fmt.Errorf("bad host:port %s in the JDBC URI", quoteValue(net.JoinHostPort(host, port)))
	}
	h.addr = net.JoinHostPort(host, port)
	return h, nil
}

// mysqlSSLMode is Connector/J's sslMode, which every other SSL property of either driver comes down to.
type mysqlSSLMode string

const (
	sslDisabled       mysqlSSLMode = "DISABLED"
	sslPreferred      mysqlSSLMode = "PREFERRED"
	sslRequired       mysqlSSLMode = "REQUIRED"
	sslVerifyCA       mysqlSSLMode = "VERIFY_CA"
	sslVerifyIdentity mysqlSSLMode = "VERIFY_IDENTITY"
)

// mysqlSettings is what one host's connection uses, resolved from the URI, the connector keys and
// druid.metadata.mysql.ssl.*, before any file is read.
type mysqlSettings struct {
	addr, user, password, dbname string
	mode                         mysqlSSLMode
	trustStore, trustStoreKey    string // a path, and the key or parameter that named it (for errors)
	clientStore, clientStoreKey  string
	ciphers, protocols           []string
	connectTimeout, ioTimeout    time.Duration
	notes                        []string
}

const mysqlSSLPrefix = "druid.metadata.mysql.ssl."

// settings resolves the properties of host i. A property the URI sets (the host's own first, then the query's)
// wins over druid.metadata.mysql.ssl.*, which Druid hands to the driver as the connection's default properties;
// the connector user and password keys win over the URI's, as for PostgreSQL.
func (u mysqlURI) settings(i int, m MetadataConfig, ssl MySQLSSLConfig) (mysqlSettings, error) {
	h := u.hosts[i]
	prop := func(names ...string) (string, bool) {
		for _, list := range [][][2]string{h.props, u.params} {
			for j := len(list) - 1; j >= 0; j-- { // the last occurrence wins
				if slices.Contains(names, list[j][0]) {
					return list[j][1], true
				}
			}
		}
		return "", false
	}
	boolProp := func(def bool, names ...string) (bool, error) {
		v, ok := prop(names...)
		if !ok {
			return def, nil
		}
		switch strings.ToLower(v) {
		case "true", "yes", "1", "":
			return true, nil
		case "false", "no", "0":
			return false, nil
		}
		return false, fmt.Errorf("%s=%s: expected true or false", names[0], v)
	}
	s := mysqlSettings{addr: h.addr, dbname: u.dbname, connectTimeout: 10 * time.Second}
	s.user = m.User
	if s.user == "" {
		s.user, _ = prop("user")
	}
	s.password = m.Password.Reveal()
	if s.password == "" {
		s.password, _ = prop("password")
	}

	useSSL, err := boolProp(ssl.UseSSL, "useSSL", "useSsl")
	if err != nil {
		return s, err
	}
	if req, err := boolProp(false, "requireSSL"); err != nil {
		return s, err
	} else if req {
		useSSL = true
	}
	verify, err := boolProp(ssl.VerifyServerCertificate, "verifyServerCertificate")
	if err != nil {
		return s, err
	}
	if trust, err := boolProp(false, "trustServerCertificate"); err != nil { // MariaDB's
		return s, err
	} else if trust {
		verify = false
	}
	// Connector/J 8 turns useSSL and verifyServerCertificate into an sslMode, which wins when it is given.
	s.mode = sslDisabled
	if useSSL {
		s.mode = sslRequired
		if verify {
			s.mode = sslVerifyCA
		}
	}
	if v, ok := prop("sslMode", "sslmode"); ok {
		mode, ok := map[string]mysqlSSLMode{"DISABLED": sslDisabled, "PREFERRED": sslPreferred, "REQUIRED": sslRequired,
			"VERIFY_CA": sslVerifyCA, "VERIFY_IDENTITY": sslVerifyIdentity,
			// MariaDB Connector/J's names.
			"DISABLE": sslDisabled, "TRUST": sslRequired, "VERIFY-CA": sslVerifyCA, "VERIFY-FULL": sslVerifyIdentity,
		}[strings.ToUpper(v)]
		if !ok {
			return s, fmt.Errorf("sslMode=%s: expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", v)
		}
		s.mode = mode
	}

	s.trustStore, s.trustStoreKey = ssl.TrustCertificateKeyStoreURL, mysqlSSLPrefix+"trustCertificateKeyStoreUrl"
	for _, name := range []string{"trustCertificateKeyStoreUrl", "serverSslCert", "trustStore"} {
		if v, ok := prop(name); ok {
			s.trustStore, s.trustStoreKey = v, "the JDBC parameter "+name
		}
	}
	s.clientStore, s.clientStoreKey = ssl.ClientCertificateKeyStoreURL, mysqlSSLPrefix+"clientCertificateKeyStoreUrl"
	for _, name := range []string{"clientCertificateKeyStoreUrl", "keyStore"} {
		if v, ok := prop(name); ok {
			s.clientStore, s.clientStoreKey = v, "the JDBC parameter "+name
		}
	}
	s.ciphers, s.protocols = ssl.enabledSSLCipherSuites, ssl.enabledTLSProtocols
	if v, ok := prop("enabledSSLCipherSuites", "enabledSslCipherSuites"); ok {
		s.ciphers = strings.Split(v, ",")
	}
	if v, ok := prop("enabledTLSProtocols", "enabledSslProtocolSuites", "tlsVersions"); ok {
		s.protocols = strings.Split(v, ",")
	}

	millis := func(name string) (time.Duration, bool, error) {
		v, ok := prop(name)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("%s=%s: expected a whole number of milliseconds", name, v)
		}
		return time.Duration(n) * time.Millisecond, true, nil
	}
	if d, ok, err := millis("connectTimeout"); err != nil {
		return s, err
	} else if ok {
		s.connectTimeout = d // 0 waits as long as the operation's context allows, as the driver's 0 does
	}
	if d, _, err := millis("socketTimeout"); err != nil {
		return s, err
	} else {
		s.ioTimeout = d
	}

	seen := map[string]bool{}
	for _, list := range [][][2]string{h.props, u.params} {
		for _, kv := range list {
			name := kv[0]
			if seen[name] {
				continue
			}
			seen[name] = true
			switch name {
			case "user", "password", "useSSL", "useSsl", "requireSSL", "verifyServerCertificate", "trustServerCertificate",
				"sslMode", "sslmode", "trustCertificateKeyStoreUrl", "serverSslCert", "trustStore", "clientCertificateKeyStoreUrl",
				"keyStore", "enabledSSLCipherSuites", "enabledSslCipherSuites", "enabledTLSProtocols",
				"enabledSslProtocolSuites", "tlsVersions", "connectTimeout", "socketTimeout",
				// Handled the way these ask: utf8mb4 throughout, and the server's RSA key fetched when needed.
				"useUnicode", "characterEncoding", "allowPublicKeyRetrieval",
				// Passwords of key stores druid-sidecar reads as PEM, where they do not apply.
				"trustCertificateKeyStorePassword", "clientCertificateKeyStorePassword", "trustStorePassword",
				"keyStorePassword", "trustCertificateKeyStoreType", "clientCertificateKeyStoreType":
			default:
				s.notes = append(s.notes, fmt.Sprintf("JDBC parameter %s is ignored: the Go MySQL driver has no equivalent", name))
			}
		}
	}
	if u.variant != "" && i == 0 && len(u.hosts) > 1 {
		s.notes = append(s.notes, fmt.Sprintf("jdbc:%s:%s: the hosts are tried in the URI's order, for reads only", u.driver, u.variant))
	}
	return s, nil
}

// MySQLConfigs translates the metadata store's JDBC URI, the connector's user and password and
// druid.metadata.mysql.ssl.* (ssl) into one go-sql-driver configuration per host of the URI, in its order (the drivers'
// failover tries them so). See parseMySQLJDBC for the URI forms. Properties of either driver that are mapped:
//
//   - useSSL (useSsl), requireSSL, verifyServerCertificate, trustServerCertificate and sslMode (Connector/J's
//     DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY, and MariaDB's disable, trust, verify-ca,
//     verify-full): useSSL alone encrypts without checking the certificate, verifyServerCertificate checks it
//     against the trust store (VERIFY_CA), VERIFY_IDENTITY checks the host name too.
//   - trustCertificateKeyStoreUrl (serverSslCert) and clientCertificateKeyStoreUrl (keyStore): PEM files (CA
//     certificates; a certificate chain with its unencrypted private key). JKS and PKCS12 stores are an error that
//     says how to convert them.
//   - enabledSSLCipherSuites and enabledTLSProtocols (TLSv1 to TLSv1.3).
//   - connectTimeout (milliseconds, 10 s when absent), socketTimeout (milliseconds, per read and write).
//   - user and password, when the connector keys do not set them.
//
// Every other parameter is ignored and named in the returned notes.
func (m MetadataConfig) MySQLConfigs(ssl MySQLSSLConfig) ([]*mysql.Config, []string, error) {
	if err := m.checkType("mysql"); err != nil {
		return nil, nil, err
	}
	u, err := parseMySQLJDBC(m.ConnectURI)
	if err != nil {
		if sub, _, _ := strings.Cut(strings.TrimPrefix(m.ConnectURI, "jdbc:"), ":"); strings.HasPrefix(m.ConnectURI, "jdbc:") &&
			jdbcSubprotocol.MatchString(sub) && sub != "mysql" && sub != "mariadb" && sub != "mysql+srv" {
			err = fmt.Errorf("a jdbc:%s: URI while druid.metadata.storage.type is mysql; druid-sidecar reads jdbc:mysql: "+
				"and jdbc:mariadb: URIs there", sub)
		}
		return nil, nil, Problem{Key: connectURIKey, Msg: err.Error()}
	}
	var cfgs []*mysql.Config
	var notes []string
	for i := range u.hosts {
		s, err := u.settings(i, m, ssl)
		if err != nil {
			return nil, nil, Problem{Key: connectURIKey, Msg: err.Error()}
		}
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.DBName, cfg.User, cfg.Passwd = "tcp", s.addr, s.dbname, s.user, s.password
		cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = s.connectTimeout, s.ioTimeout, s.ioTimeout
		// Statements are sent with their arguments in place, in one round trip and read as text rows, as
		// Connector/J does by default (safe with utf8mb4, which the driver checks).
		cfg.InterpolateParams = true
		if cfg.TLS, err = s.tlsConfig(); err != nil {
			return nil, nil, err
		}
		cfg.AllowFallbackToPlaintext = s.mode == sslPreferred
		cfgs = append(cfgs, cfg)
		notes = append(notes, s.notes...)
	}
	return cfgs, notes, nil
}

// tlsConfig builds the TLS configuration of the settings' sslMode, reading the PEM files; nil when TLS is off.
func (s mysqlSettings) tlsConfig() (*tls.Config, error) {
	if s.mode == sslDisabled {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(s.addr)
	c := &tls.Config{ServerName: host, InsecureSkipVerify: s.mode != sslVerifyIdentity}
	if s.trustStore != "" {
		pem, err := readPEMStore(s.trustStore, s.trustStoreKey)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, storeProblem(s.trustStoreKey, "holds no CERTIFICATE block")
		}
		c.RootCAs = pool
	}
	if s.mode == sslVerifyCA {
		// The chain is checked against the trust store (the system's when there is none), not the host name.
		roots := c.RootCAs
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if s.clientStore != "" {
		pem, err := readPEMStore(s.clientStore, s.clientStoreKey)
		if err != nil {
			return nil, err
		}
		if strings.Contains(string(pem), "ENCRYPTED") {
			return nil, storeProblem(s.clientStoreKey, "holds an encrypted private key; druid-sidecar reads unencrypted PEM keys "+
				"(openssl pkey -in key.pem -out plain.pem)")
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, storeProblem(s.clientStoreKey, "is not a PEM certificate chain with its private key: "+err.Error())
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if len(s.ciphers) > 0 {
		ids := map[string]uint16{}
		for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			ids[cs.Name] = cs.ID
		}
		for _, name := range s.ciphers {
			id, ok := ids[strings.TrimSpace(name)]
			if !ok {
				return nil, Problem{Key: mysqlSSLPrefix + "enabledSSLCipherSuites", Msg: fmt.Sprintf(
					"unknown cipher suite %s; expected IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", quoteValue(name))}
			}
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	if len(s.protocols) > 0 {
		versions := map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12,
			"TLSv1.3": tls.VersionTLS13}
		for _, p := range s.protocols {
			v, ok := versions[strings.TrimSpace(p)]
			if !ok {
				return nil, Problem{Key: mysqlSSLPrefix + "enabledTLSProtocols", Msg: fmt.Sprintf(
					"unknown protocol %s; expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", quoteValue(p))}
			}
			if c.MinVersion == 0 || v < c.MinVersion {
				c.MinVersion = v
			}
			c.MaxVersion = max(c.MaxVersion, v)
		}
	}
	return c, nil
}

// readPEMStore reads a key store path (a file: URL too) that must be a PEM file.
func readPEMStore(path, key string) ([]byte, error) {
	if p, ok := strings.CutPrefix(path, "file:"); ok {
		path = p
		if rest, ok := strings.CutPrefix(path, "//"); ok {
			path = rest // file:///etc/x → /etc/x
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, storeProblem(key, err.Error())
	}
	if !strings.Contains(string(b), "-----BEGIN ") {
		return nil, storeProblem(key, path+" is not a PEM file; druid-sidecar reads PEM (convert a JKS or PKCS12 store: "+
			"keytool -exportcert -rfc for certificates, openssl pkcs12 -nodes for a key and its chain)")
	}
	return b, nil
}

// storeProblem is a problem of a key store, reported against the key or parameter that named it.
func storeProblem(key, msg string) error {
	if strings.HasPrefix(key, mysqlSSLPrefix) {
		return Problem{Key: key, Msg: msg}
	}
	return Problem{Key: connectURIKey, Msg: strings.TrimPrefix(key, "the ") + ": " + msg}
}
