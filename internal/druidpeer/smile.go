package druidpeer

// The Smile decoder the Druid peers read inventories with is announcer.SmileToJSON: one decoder for the project,
// which `audit` uses in production too. These names remain for the peers' callers.

import "github.com/druid-sidecar/druid-sidecar/announcer"

// SmileHeader is the start of every Smile document that Jackson's parser accepts by default.
const SmileHeader = announcer.SmileSignature

// SmileToJSON decodes the single Smile document in data into compact JSON, as announcer.SmileToJSON does.
func SmileToJSON(data []byte) ([]byte, error) { return announcer.SmileToJSON(data) }
