// Package discovery finds a Druid cluster's nodes and leaders and announces this node, as Druid's node discovery
// does (DruidNodeDiscoveryProvider, DruidNodeAnnouncer and the leader lookups of DruidLeaderClient). The
// interfaces are what every backend implements: ZooKeeper (Curator's internal discovery and leader latches,
// druid.discovery.type=curator) and Kubernetes (pod labels and annotations, leader ConfigMaps, k8s); Open picks the
// one the configuration names.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Discovery reads the nodes a cluster announces and its leaders.
type Discovery interface {
	// Nodes returns the announced nodes of the given roles (HISTORICAL, BROKER, …; every role when none is given).
	// Payloads that cannot be read are reported in the error; the others are returned.
	Nodes(ctx context.Context, roles ...string) ([]Node, error)
	// CoordinatorLeader is the leader Coordinator; nil when none leads.
	CoordinatorLeader(ctx context.Context) (*Leader, error)
	// OverlordLeader is the leader Overlord; nil when none leads.
	OverlordLeader(ctx context.Context) (*Leader, error)
	// Close releases the backend's connection.
	Close()
}

// Announcer makes this node visible to the cluster's discovery (the DiscoveryDruidNode of NodeJSON) and takes it
// away again.
type Announcer interface {
	// Announce returns once the node is announced.
	Announce(ctx context.Context) error
	// Unannounce returns once the node is no longer announced.
	Unannounce(ctx context.Context) error
}

// Node is one DiscoveryDruidNode.
type Node struct {
	Role          string `json:"role"`     // the role it is announced under: HISTORICAL, BROKER, …
	NodeType      string `json:"nodeType"` // the payload's nodeType
	Name          string `json:"name"`     // host:port, the znode name in ZooKeeper
	Service       string `json:"service"`
	Host          string `json:"host"`
	PlaintextPort int    `json:"plaintextPort"`
	TLSPort       int    `json:"tlsPort"`
	Version       string `json:"version,omitempty"`
	StartTime     string `json:"startTime,omitempty"`
	// Services are the announced service types, in payload order.
	Services []string `json:"services"`
	// DataNode is the dataNodeService, nil when not announced.
	DataNode *DataNodeService `json:"dataNodeService,omitempty"`
}

// DataNodeService is what Druid's HTTP server view takes from a node: tier, maxSize, storageSize (Druid 37+),
// serverType, priority.
type DataNodeService struct {
	Tier    string `json:"tier"`
	MaxSize int64  `json:"maxSize"`
	// StorageSize is the node's segment cache capacity; a writer older than Druid 37 has none, and it is then
	// maxSize, as Druid's DruidServerMetadata reads a null storageSize.
	StorageSize int64  `json:"storageSize"`
	ServerType  string `json:"serverType"`
	Priority    int    `json:"priority"`
}

// Leader is the holder of a leadership.
type Leader struct {
	URL   string `json:"url"`   // scheme://host:port
	ZNode string `json:"znode"` // in ZooKeeper, the latch child it holds
}

// ParseNode reads a DiscoveryDruidNode payload as Druid does: services through a token stream so that the FIRST
// "type" of each service is its type (DataNodeService repeats "type" with the server type), serverType taken from
// "serverType", or from the second "type" for writers older than 0.23.
func ParseNode(data []byte) (Node, error) {
	var top struct {
		DruidNode struct {
			Service       string `json:"service"`
			Host          string `json:"host"`
			PlaintextPort int    `json:"plaintextPort"`
			TLSPort       int    `json:"tlsPort"`
			Version       string `json:"version"`
		} `json:"druidNode"`
		NodeType  string          `json:"nodeType"`
		Services  json.RawMessage `json:"services"`
		StartTime string          `json:"startTime"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return Node{}, fmt.Errorf("not a DiscoveryDruidNode: %w", err)
	}
	n := Node{NodeType: top.NodeType, Service: top.DruidNode.Service, Host: top.DruidNode.Host,
		PlaintextPort: top.DruidNode.PlaintextPort, TLSPort: top.DruidNode.TLSPort, Version: top.DruidNode.Version,
		StartTime: top.StartTime}
	if len(top.Services) == 0 || string(top.Services) == "null" {
		return n, nil
	}
	dec := json.NewDecoder(bytes.NewReader(top.Services))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return n, errors.New("DiscoveryDruidNode services: expected an object")
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the map key; the type inside decides
			return n, fmt.Errorf("DiscoveryDruidNode services: %w", err)
		}
		fields, err := firstMembers(dec)
		if err != nil {
			return n, fmt.Errorf("DiscoveryDruidNode services: %w", err)
		}
		get := func(key string, second bool) []byte {
			m := fields[key]
			switch {
			case m == nil:
				return nil
			case second:
				return m.second
			}
			return m.first
		}
		var typ string
		_ = json.Unmarshal(get("type", false), &typ)
		n.Services = append(n.Services, typ)
		if typ != "dataNodeService" {
			continue
		}
		d := &DataNodeService{}
		_ = json.Unmarshal(get("tier", false), &d.Tier)
		_ = json.Unmarshal(get("maxSize", false), &d.MaxSize)
		// An absent (or null) storageSize is maxSize, as DruidServerMetadata's creator takes it.
		d.StorageSize = d.MaxSize
		if raw := get("storageSize", false); raw != nil && string(raw) != "null" {
			_ = json.Unmarshal(raw, &d.StorageSize)
		}
		_ = json.Unmarshal(get("priority", false), &d.Priority)
		if err := json.Unmarshal(get("serverType", false), &d.ServerType); err != nil || d.ServerType == "" {
			_ = json.Unmarshal(get("type", true), &d.ServerType)
		}
		n.DataNode = d
	}
	return n, nil
}

type member struct{ first, second json.RawMessage }

// firstMembers reads one JSON object from dec keeping, per key, its first and second values.
func firstMembers(dec *json.Decoder) (map[string]*member, error) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("expected an object")
	}
	out := map[string]*member{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch m := out[key]; {
		case m == nil:
			out[key] = &member{first: v}
		case m.second == nil:
			m.second = v
		}
	}
	_, err := dec.Token() // '}'
	return out, err
}
