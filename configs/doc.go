// Package configs reads Druid's runtime properties, the environment and --set flags into one immutable, typed
// *Config, the way a Druid Historical reads its own configuration.
//
// # Sources
//
// From the weakest to the strongest: the defaults (a Historical's), each --properties file in order, environment
// variables in the Druid Docker image convention, then --set key=value flags.
//
//   - Files are Java .properties (=, : or blanks between key and value, # and ! comments, backslash continuations,
//     \uXXXX and the other escapes), read with github.com/magiconair/properties with its own ${} expansion off. The
//     logical lines are found here, to keep each key's file:line and to read three corner cases as Java does (see
//     parseProperties). A key given twice in one file takes the later value, as java.util.Properties does; Load
//     notes it in Warnings.
//   - Environment, as distribution/docker/druid.sh: ZOOKEEPER sets druid.zk.service.host, and every variable named
//     druid_* sets the key made by turning each _ into a . with the case kept (druid_segmentCache_locations sets
//     druid.segmentCache.locations). Values are taken verbatim. DRUID_CONFIG_COMMON, DRUID_CONFIG_<service> and
//     DRUID_SET_HOST are not read: the caller passes files with --properties and druid.host explicitly.
//   - --set overrides everything, like a Java -D system property overrides the files in Druid.
//
// # Interpolation
//
// Every value is interpolated as Druid's JsonConfigurator does (see lookups.interpolate): ${env:NAME},
// ${env:NAME:-default}, ${file:UTF-8:/path} (the whole file, trailing newline included), nesting, and $${ for a
// literal ${. ${sys:NAME} reads the --set flags (they play the part of -D system properties) and a few JVM
// properties (java.io.tmpdir=/tmp, user.home, user.name, user.dir, file.separator, path.separator,
// line.separator). Where Druid leaves an unterminated ${ as text, druid-sidecar reports an error.
//
// # Keys
//
// One registry declares every key druid-sidecar reads, with its default, type, documentation and secret flag;
// Keys and MarkdownTable render it. An unknown druid.sidecar.* key is an error that suggests the nearest known
// key; other druid.* keys belong to Druid, are kept for `config print` and otherwise ignored.
//
// Choices where Druid gives no single answer:
//   - druid.plaintextPort defaults to 8083 and druid.tlsPort to 8283, a Historical's ports. A port in druid.host is
//     used when druid.plaintextPort is not set; a Java Historical would instead reject any port other than 8083
//     there. Druid defaults druid.host to the local host name; here it has no default and RequireHost checks it.
//   - druid.sidecar.version defaults to "unknown", what Druid announces when it cannot tell its own version.
//   - druid.sidecar.prefetch.maxBytes defaults to auto: each location's window is what its disk can give beyond what
//     the Historical may still need there (a location without a maxSize below its disk gets none); 0 turns it off.
//   - Values of non-secret keys are trimmed; Druid keeps trailing blanks. Passwords are kept verbatim, as in Druid.
//   - A password provider of type "environment" naming an unset variable is an error (Druid uses a null
//     password).
//   - druid.server.hiddenProperties adds to Druid's default list of hidden keys instead of replacing it.
//
// # Errors
//
// Load reports every problem at once in an *Errors; each Problem renders as one line naming where the value came
// from (file:PATH:LINE, env:NAME or flag:--set), the key and what was expected. Checks that only some commands need
// (an address to announce, a segment cache) are Requirements passed in LoadOptions.Require.
//
// # Secrets
//
// Password keys hold a Secret, which never prints its value. Entries, FormatProperties and FormatJSON show
// "<redacted>" for them and for every key whose name contains one of druid.server.hiddenProperties (by default
// druid.s3.accessKey, druid.s3.secretKey, druid.metadata.storage.connector.password, password, key, token, pwd).
package configs
