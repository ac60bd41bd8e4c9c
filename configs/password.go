package configs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errNotProvider marks a value that starts with { but is not JSON: Druid then uses it as the password itself.
var errNotProvider = errors.New("not a password provider")

// parsePassword reads a key that Druid binds to a PasswordProvider. Like Druid's JsonConfigurator, a value starting
// with { that parses as JSON is a provider object; anything else is the password itself, kept verbatim (surrounding
// blanks included, as in Druid).
//
// Providers: {"type":"default","password":"p"} (also without "type", Druid's default implementation) and
// {"type":"environment","variable":"NAME"}. Unlike Druid, which then uses a null password, an unset NAME is an
// error. Errors never quote the value.
func parsePassword(raw string, lk *lookups) (Secret, error) {
	if !strings.HasPrefix(raw, "{") {
		return Secret{value: raw}, nil
	}
	v, err := passwordFromProvider(raw, lk)
	if errors.Is(err, errNotProvider) {
		return Secret{value: raw}, nil
	}
	return v, err
}

func passwordFromProvider(raw string, lk *lookups) (Secret, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &obj) != nil {
		return Secret{}, errNotProvider
	}
	field := func(name string) (string, bool, error) {
		m, ok := obj[name]
		if !ok || string(m) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return "", false, fmt.Errorf("password provider: %q must be a string", name)
		}
		return s, true, nil
	}
	typ, hasType, err := field("type")
	if err != nil {
		return Secret{}, err
	}
	switch {
	case !hasType || typ == "default":
		p, _, err := field("password")
		return Secret{value: p}, err
	case typ == "environment":
		name, ok, err := field("variable")
		if err != nil {
			return Secret{}, err
		}
		if !ok || name == "" {
			return Secret{}, errors.New(`password provider "environment" needs "variable": {"type":"environment","variable":"NAME"}`)
		}
		v, ok := lk.env[name]
		if !ok {
			return Secret{}, fmt.Errorf("password provider: environment variable %s is not set", name)
		}
		return Secret{value: v}, nil
	default:
		return Secret{}, fmt.Errorf(`unknown password provider type %q: druid-sidecar reads "default" and "environment"`, typ)
	}
}
