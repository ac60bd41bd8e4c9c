package configs

import (
	"net/url"
	"strings"
)

// credentialWords are substrings of URI parameter names that carry a credential, beyond the hidden-key
// substrings (password, key, token, pwd and druid.server.hiddenProperties): PostgreSQL's sslpassword, MySQL's
// trustCertificateKeyStorePassword, password1…3, a key file's passphrase, client secrets.
var credentialWords = []string{"secret", "passphrase", "passwd", "credential"}

// redactURI hides the credentials a URI-like value may hold: the password of each user:password@ userinfo, and
// the value of every parameter whose name hidden reports (case-insensitively, %-escapes decoded), whether it is a
// query parameter (?name=value&…), a ;name=value property (Derby, SQL Server) or a MySQL key-value host
// ((host=…,password=…) or address=(host=…)(password=…)). The rest is kept so an operator can still read where
// it points.
func redactURI(v string, hidden func(name string) bool) string {
	isCredential := func(name string) bool {
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		lower := strings.ToLower(name)
		for _, w := range credentialWords {
			if strings.Contains(lower, w) {
				return true
			}
		}
		return hidden(name)
	}
	return redactParams(redactUserinfo(v), isCredential)
}

// redactUserinfo replaces the password of each user:password@ before a host (several for MySQL's host lists).
func redactUserinfo(v string) string {
	i := strings.Index(v, "//")
	if i < 0 {
		return v
	}
	start := i + 2
	end := start + strings.IndexAny(v[start:]+"/", "/?#")
	authority := v[start:end]
	if !strings.Contains(authority, "@") {
		return v
	}
	hosts := strings.Split(authority, ",")
	for h, host := range hosts {
		at := strings.LastIndexByte(host, '@')
		if at < 0 {
			continue
		}
		if user, _, ok := strings.Cut(host[:at], ":"); ok {
			hosts[h] = user + ":" + redacted + host[at:]
		}
	}
	return v[:start] + strings.Join(hosts, ",") + v[end:]
}

// redactParams replaces the value of every name=value whose name isCredential reports. A name follows ? & ; ( or
// ,; its value ends where the syntax that introduced it says: & for query parameters, ; for properties, , or ) in
// MySQL's parentheses.
func redactParams(v string, isCredential func(name string) bool) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(v); i++ {
		var ends string
		switch v[i] {
		case '?', '&':
			ends = "&#"
		case ';':
			ends = ";"
		case '(', ',':
			ends = ",)"
		default:
			continue
		}
		eq := i + 1
		for eq < len(v) && !strings.ContainsRune("=?&;(),/:@ \t", rune(v[eq])) {
			eq++
		}
		if eq == i+1 || eq >= len(v) || v[eq] != '=' {
			continue
		}
		end := eq + 1
		for end < len(v) && !strings.ContainsRune(ends, rune(v[end])) {
			end++
		}
		if end > eq+1 && isCredential(v[i+1:eq]) {
			b.WriteString(v[last : eq+1])
			b.WriteString(redacted)
			last = end
		}
		i = end - 1 // a value's own ?, &, ( or , starts no parameter
	}
	if last == 0 {
		return v
	}
	b.WriteString(v[last:])
	return b.String()
}

// looksLikeURI says whether a value of a key that is not secret may hold credentials in URI form.
func looksLikeURI(v string) bool {
	return strings.HasPrefix(v, "jdbc:") || strings.Contains(v, "://")
}
