package configs

// TLSConfig is what Druid's TLS keys say: the server's key store (druid.server.https.*, TLSServerConfig) and the
// trust store of outbound calls (druid.client.https.*, the simple-client-sslcontext extension's SSLClientConfig).
// The ports themselves are NodeConfig's (druid.enableTlsPort, druid.tlsPort). Package tlsconf turns both into
// *tls.Config.
type TLSConfig struct {
	Server TLSServerConfig
	Client TLSClientConfig
}

// TLSServerConfig is druid.server.https.*: the key store whose certificate the TLS port presents.
type TLSServerConfig struct {
	// KeyStorePath is the JKS or PKCS12 file; TLS needs it.
	KeyStorePath string
	// KeyStoreType is JKS or PKCS12 (any case); empty means Java's default type, PKCS12.
	KeyStoreType string
	// CertAlias names the key entry to present; empty takes the only one (Jetty would take any).
	CertAlias string
	// KeyStorePassword opens the store; KeyManagerPassword opens the key entry, the store's password when empty
	// (as Jetty falls back when no key manager password is given).
	KeyStorePassword   Secret
	KeyManagerPassword Secret
}

// TLSClientConfig is druid.client.https.*: whom outbound HTTPS calls (Coordinator, inventories, upstream) trust.
type TLSClientConfig struct {
	// TrustStorePath is the JKS or PKCS12 file of trusted certificates (a key store also serves: its keys' certificates
	// are trusted, as in Java); empty trusts the system's roots.
	TrustStorePath string
	// TrustStoreType is JKS or PKCS12 (any case); empty means Java's default type, PKCS12.
	TrustStoreType     string
	TrustStorePassword Secret
	// ValidateHostnames is druid.client.https.validateHostnames: check the server's certificate names the host
	// called, as Druid does by default.
	ValidateHostnames bool
}

// Keys of the TLS settings, for the errors that name them.
const (
	KeyTLSKeyStorePath       = "druid.server.https.keyStorePath"
	KeyTLSKeyStoreType       = "druid.server.https.keyStoreType"
	KeyTLSKeyStorePassword   = "druid.server.https.keyStorePassword"
	KeyTLSCertAlias          = "druid.server.https.certAlias"
	KeyTLSKeyManagerPassword = "druid.server.https.keyManagerPassword"
	KeyTLSTrustStorePath     = "druid.client.https.trustStorePath"
	KeyTLSTrustStoreType     = "druid.client.https.trustStoreType"
	KeyTLSTrustStorePassword = "druid.client.https.trustStorePassword"
)
