package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
// ~/.pgpass still fill what the URI leaves out, as pgx does everywhere. MySQL, Derby and other stores are an error
// naming the key: they are not supported yet.
func (m MetadataConfig) PgxConfig() (*pgx.ConnConfig, []string, error) {
	if m.Type != "postgresql" {
		return nil, nil, Problem{Key: "druid.metadata.storage.type", Msg: fmt.Sprintf(
			"%s metadata stores are not supported yet; druid-sidecar reads postgresql", quoteValue(m.Type))}
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
		return j, fmt.Errorf("%s metadata stores are not supported yet; druid-sidecar reads jdbc:postgresql:… URIs", quoteValue(sub))
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
	if query != "" {
		for kv := range strings.SplitSeq(query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			v, err := url.QueryUnescape(v)
			if err != nil {
				// The value is not quoted: it may be a password.
				return j, fmt.Errorf("bad %%-escape in the value of parameter %s", k)
			}
			j.params = append(j.params, [2]string{k, v})
		}
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
