// Package tlsconf turns Druid's TLS settings (configs.TLSConfig) into *tls.Config: the server's from its JKS or
// PKCS12 key store (druid.server.https.*), and the outbound calls' from the trust store (druid.client.https.*).
// It is the one place key stores are read. Every error names the key and the file it is about, and never a password.
package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// jksMagic starts every JKS file; a PKCS12 file is a DER SEQUENCE.
var jksMagic = []byte{0xfe, 0xed, 0xfe, 0xed}

// format is the store type a file holds, read from its first bytes.
type format int

const (
	formatPKCS12 format = iota
	formatJKS
)

func (f format) String() string {
	if f == formatJKS {
		return "JKS"
	}
	return "PKCS12"
}

// readStore reads a store file and checks its declared type. Java 9+ (keystore.type.compat) reads a JKS file as a
// PKCS12 store and the reverse, so the file's own format decides and the declared type only has to be one of them.
func readStore(path, pathKey, typ, typeKey string) ([]byte, format, error) {
	switch strings.ToUpper(typ) {
	case "", "JKS", "PKCS12":
	default:
		return nil, 0, fmt.Errorf("%s=%s: druid-sidecar reads JKS and PKCS12 stores", typeKey, typ)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", pathKey, err)
	}
	if bytes.HasPrefix(b, jksMagic) {
		return b, formatJKS, nil
	}
	if len(b) == 0 || b[0] != 0x30 {
		return nil, 0, fmt.Errorf("%s: %s is neither a JKS nor a PKCS12 store", pathKey, path)
	}
	return b, formatPKCS12, nil
}

// keyEntry is one private key entry of a key store.
type keyEntry struct {
	alias string
	key   crypto.PrivateKey
	chain []*x509.Certificate // the leaf first
	// anyAlias marks the one key of a PKCS12 store whose aliases could not be read (see readPKCS12Keys): being the
	// store's only key, it is the one any certAlias can name.
	anyAlias bool
}

// Server is the TLS port's configuration: the key store's certificate chain and key, the entry certAlias names.
func Server(c configs.TLSServerConfig) (*tls.Config, error) {
	if c.KeyStorePath == "" {
		return nil, fmt.Errorf("druid.enableTlsPort=true needs %s, the key store of the TLS port's certificate", configs.KeyTLSKeyStorePath)
	}
	entries, err := readKeyStore(c)
	if err != nil {
		return nil, err
	}
	e, err := pickEntry(entries, c.CertAlias, c.KeyStorePath)
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{PrivateKey: e.key, Leaf: e.chain[0]}
	for _, x := range e.chain {
		cert.Certificate = append(cert.Certificate, x.Raw)
	}
	// Druid's Jetty offers TLS 1.2 and 1.3 by default; older versions are off there too.
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// pickEntry is the entry certAlias names (aliases compare without case, as Java's JKS and PKCS12 stores do), or the
// only key entry when certAlias is empty.
func pickEntry(entries []keyEntry, alias, path string) (keyEntry, error) {
	var aliases []string
	for _, e := range entries {
		if alias != "" && (strings.EqualFold(e.alias, alias) || e.anyAlias) {
			return e, nil
		}
		aliases = append(aliases, e.alias)
	}
	slices.Sort(aliases)
	switch {
	case len(entries) == 0:
		return keyEntry{}, fmt.Errorf("%s: %s holds no private key entry", configs.KeyTLSKeyStorePath, path)
	case alias != "":
		return keyEntry{}, fmt.Errorf("%s=%s: %s has no private key entry of that alias (it has %s)", configs.KeyTLSCertAlias, alias, path, strings.Join(aliases, ", "))
	case len(entries) > 1:
		return keyEntry{}, fmt.Errorf("%s holds several private key entries (%s): set %s to the one to present", path, strings.Join(aliases, ", "), configs.KeyTLSCertAlias)
	}
	return entries[0], nil
}

func readKeyStore(c configs.TLSServerConfig) ([]keyEntry, error) {
	b, f, err := readStore(c.KeyStorePath, configs.KeyTLSKeyStorePath, c.KeyStoreType, configs.KeyTLSKeyStoreType)
	if err != nil {
		return nil, err
	}
	if f == formatJKS {
		keyPass := c.KeyManagerPassword
		if keyPass.IsZero() {
			keyPass = c.KeyStorePassword
		}
		return readJKSKeys(b, c.KeyStorePath, c.KeyStorePassword.Reveal(), keyPass.Reveal())
	}
	return readPKCS12Keys(b, c.KeyStorePath, c.KeyStorePassword.Reveal())
}

func readJKSKeys(b []byte, path, storePass, keyPass string) ([]keyEntry, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(b), []byte(storePass)); err != nil {
		return nil, fmt.Errorf("%s does not open the JKS key store %s (wrong password, or a damaged file): %w", configs.KeyTLSKeyStorePassword, path, err)
	}
	var out []keyEntry
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		pe, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
		if err != nil {
			return nil, fmt.Errorf("%s (or %s when that is not set) does not open the key %q of %s: %w",
				configs.KeyTLSKeyManagerPassword, configs.KeyTLSKeyStorePassword, alias, path, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(pe.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("%s: the key %q of %s: %w", configs.KeyTLSKeyStorePath, alias, path, err)
		}
		var chain []*x509.Certificate
		for _, c := range pe.CertificateChain {
			x, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return nil, fmt.Errorf("%s: the certificate chain of %q in %s: %w", configs.KeyTLSKeyStorePath, alias, path, err)
			}
			chain = append(chain, x)
		}
		if len(chain) == 0 {
			return nil, fmt.Errorf("%s: the key %q of %s has no certificate", configs.KeyTLSKeyStorePath, alias, path)
		}
		out = append(out, keyEntry{alias: alias, key: key, chain: chain})
	}
	return out, nil
}

// readPKCS12Keys reads the key entries of a PKCS12 store. go-pkcs12's ToPEM is the one reader of it that keeps
// each bag's friendlyName (the alias) and localKeyId (which ties a key to its certificate), which certAlias needs;
// DecodeChain would take only a store of one key.
func readPKCS12Keys(b []byte, path, pass string) ([]keyEntry, error) {
	blocks, err := pkcs12.ToPEM(b, pass) //nolint:staticcheck // see above: the only reader that keeps the aliases
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("%s does not open the PKCS12 key store %s: wrong password", configs.KeyTLSKeyStorePassword, path)
		}
		// ToPEM refuses bags with attributes it does not know, such as Java's trusted-certificate mark on a CA
		// imported beside the key (keytool -importcert); DecodeChain reads such a store when it has one key.
		if e, cerr := readPKCS12Chain(b, pass); cerr == nil {
			return []keyEntry{e}, nil
		}
		return nil, fmt.Errorf("%s: reading the PKCS12 key store %s: %w", configs.KeyTLSKeyStorePath, path, err)
	}
	type keyBag struct {
		alias, id string
		key       crypto.PrivateKey
	}
	var keys []keyBag
	certByID := map[string]*x509.Certificate{}
	var certs []*x509.Certificate
	for _, bl := range blocks {
		switch bl.Type {
		case "CERTIFICATE":
			x, err := x509.ParseCertificate(bl.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: a certificate of %s: %w", configs.KeyTLSKeyStorePath, path, err)
			}
			certs = append(certs, x)
			if id := bl.Headers["localKeyId"]; id != "" {
				certByID[id] = x
			}
		case "PRIVATE KEY":
			key, err := parseRawKey(bl.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: the key %q of %s: %w", configs.KeyTLSKeyStorePath, bl.Headers["friendlyName"], path, err)
			}
			alias := bl.Headers["friendlyName"]
			if alias == "" {
				alias = bl.Headers["localKeyId"]
			}
			keys = append(keys, keyBag{alias: alias, id: bl.Headers["localKeyId"], key: key})
		}
	}
	var out []keyEntry
	for _, k := range keys {
		leaf := certByID[k.id]
		if leaf == nil && len(keys) == 1 && len(certs) > 0 {
			leaf = certs[0] // a store of one key may leave out localKeyId; its first certificate is the leaf
		}
		if leaf == nil {
			return nil, fmt.Errorf("%s: the key %q of %s has no certificate", configs.KeyTLSKeyStorePath, k.alias, path)
		}
		out = append(out, keyEntry{alias: k.alias, key: k.key, chain: buildChain(leaf, certs)})
	}
	return out, nil
}

// readPKCS12Chain reads a PKCS12 store of one key with DecodeChain, whose certificates come in file order: the
// leaf is the one whose public key is the key's.
func readPKCS12Chain(b []byte, pass string) (keyEntry, error) {
	key, first, rest, err := pkcs12.DecodeChain(b, pass)
	if err != nil {
		return keyEntry{}, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return keyEntry{}, fmt.Errorf("unsupported private key type %T", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return keyEntry{}, fmt.Errorf("unsupported private key type %T", key)
	}
	certs := append([]*x509.Certificate{first}, rest...)
	i := slices.IndexFunc(certs, func(c *x509.Certificate) bool { return pub.Equal(c.PublicKey) })
	if i < 0 {
		return keyEntry{}, errors.New("no certificate of the key")
	}
	return keyEntry{key: key, chain: buildChain(certs[i], certs), anyAlias: true}, nil
}

// parseRawKey reads a key as ToPEM writes it: PKCS#1 for RSA, SEC 1 for EC (PKCS#8 is tried too).
func parseRawKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not an RSA or EC private key")
	}
	switch k.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", k)
}

// buildChain is leaf followed by its issuers found among certs, as Java keeps a key entry's chain.
func buildChain(leaf *x509.Certificate, certs []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	for cur := leaf; len(chain) <= len(certs); {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break // self-signed: the root
		}
		i := slices.IndexFunc(certs, func(c *x509.Certificate) bool {
			return bytes.Equal(c.RawSubject, cur.RawIssuer) && !slices.Contains(chain, c)
		})
		if i < 0 {
			break
		}
		cur = certs[i]
		chain = append(chain, cur)
	}
	return chain
}

// Client is the configuration of outbound HTTPS calls: nil when druid.client.https.* leave Go's defaults (the
// system's roots, host names checked), else the trust store's certificates as the only roots.
func Client(c configs.TLSClientConfig) (*tls.Config, error) {
	if c.TrustStorePath == "" && c.ValidateHostnames {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TrustStorePath != "" {
		certs, err := readTrustStore(c)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		for _, x := range certs {
			cfg.RootCAs.AddCert(x)
		}
	}
	if !c.ValidateHostnames {
		// Go checks the chain and the name together; without the name, the chain is checked here instead, so
		// that validateHostnames=false still refuses a certificate no trusted root signed.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, x := range cs.PeerCertificates[1:] {
				inter.AddCert(x)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

func readTrustStore(c configs.TLSClientConfig) ([]*x509.Certificate, error) {
	path := c.TrustStorePath
	b, f, err := readStore(path, configs.KeyTLSTrustStorePath, c.TrustStoreType, configs.KeyTLSTrustStoreType)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	if f == formatJKS {
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(b), []byte(c.TrustStorePassword.Reveal())); err != nil {
			return nil, fmt.Errorf("%s does not open the JKS trust store %s (wrong password, or a damaged file): %w", configs.KeyTLSTrustStorePassword, path, err)
		}
		// Java's trust managers (TrustStoreUtil) trust the trusted certificate entries and the certificate of each
		// key entry (not the rest of its chain), so that a key store also serves as a trust store.
		for _, alias := range ks.Aliases() {
			if ks.IsPrivateKeyEntry(alias) {
				chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
				if err != nil || len(chain) == 0 {
					return nil, fmt.Errorf("%s: the key entry %q of %s has no certificate", configs.KeyTLSTrustStorePath, alias, path)
				}
				x, err := x509.ParseCertificate(chain[0].Content)
				if err != nil {
					return nil, fmt.Errorf("%s: the certificate %q of %s: %w", configs.KeyTLSTrustStorePath, alias, path, err)
				}
				certs = append(certs, x)
				continue
			}
			if !ks.IsTrustedCertificateEntry(alias) {
				continue
			}
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("%s: the entry %q of %s: %w", configs.KeyTLSTrustStorePath, alias, path, err)
			}
			x, err := x509.ParseCertificate(e.Certificate.Content)
			if err != nil {
				return nil, fmt.Errorf("%s: the certificate %q of %s: %w", configs.KeyTLSTrustStorePath, alias, path, err)
			}
			certs = append(certs, x)
		}
	} else {
		certs, err = pkcs12.DecodeTrustStore(b, c.TrustStorePassword.Reveal())
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("%s does not open the PKCS12 trust store %s: wrong password", configs.KeyTLSTrustStorePassword, path)
		}
		if err != nil {
			// A key store used as the trust store: its key entries' certificates, as Java's trust managers take them.
			if keys, kerr := readPKCS12Keys(b, path, c.TrustStorePassword.Reveal()); kerr == nil && len(keys) > 0 {
				for _, k := range keys {
					certs = append(certs, k.chain[0])
				}
				return certs, nil
			}
			return nil, fmt.Errorf("%s: reading the PKCS12 trust store %s (trusted certificate entries only, as keytool -importcert writes them): %w", configs.KeyTLSTrustStorePath, path, err)
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: %s holds no trusted certificate entry", configs.KeyTLSTrustStorePath, path)
	}
	return certs, nil
}

// Transport is base with the outbound TLS configuration of cfg; base itself when that is Go's default. Every
// outbound client (Coordinator, inventories, upstream) takes its transport through here.
func Transport(base *http.Transport, cfg *tls.Config) *http.Transport {
	if cfg == nil {
		return base
	}
	t := base.Clone()
	t.TLSClientConfig = cfg.Clone()
	return t
}
