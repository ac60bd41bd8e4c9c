// Package jackson reads and writes the two encodings Druid's Jackson ObjectMappers put on the wire: JSON text, as
// Jackson's default generator writes it (escaping, compact output, member order kept), and Smile binary, which
// Brokers and Coordinators ask data servers' segment inventories for. It holds one copy of RFC 8259's string and
// number rules, which both the JSON scanner and the JSON-to-Smile transcoder follow. It imports only the standard
// library, so every package that speaks to Druid can use it.
package jackson
