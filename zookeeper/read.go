package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/configs"
)

// maxInFlight bounds the reads GetAll pipelines on the connection.
const maxInFlight = 64

// Children lists the Druid path p's children, sorted; a missing p has none.
func (c *Conn) Children(ctx context.Context, p string) ([]string, error) {
	var out []string
	err := Call(ctx, func() error {
		var err error
		out, _, err = c.conn.Children(c.Path(p))
		if errors.Is(err, zk.ErrNoNode) {
			out, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p, err)
	}
	sort.Strings(out)
	return out, nil
}

// Get reads the Druid path p and decodes it as Druid's readers do (DecodeZNode); a missing p gives an error
// matching zk.ErrNoNode.
func (c *Conn) Get(ctx context.Context, p string) ([]byte, error) {
	data, err := c.GetRaw(ctx, p)
	if err != nil {
		return nil, err
	}
	return DecodeZNode(data)
}

// GetRaw reads the Druid path p as it is, for data Druid never compresses (leader latches).
func (c *Conn) GetRaw(ctx context.Context, p string) ([]byte, error) {
	var data []byte
	err := Call(ctx, func() error {
		var err error
		data, _, err = c.conn.Get(c.Path(p))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return data, nil
}

// GetAll reads many Druid paths in parallel (go-zookeeper pipelines them) as Get does; missing ones are left out.
func (c *Conn) GetAll(ctx context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for _, p := range paths {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, err := c.Get(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, zk.ErrNoNode):
			case err != nil:
				errs = append(errs, err)
			default:
				out[p] = data
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Open dials ZooKeeper for cfg, waits within ctx for a session and authenticates it: a connection for a command
// that reads the cluster once.
func Open(ctx context.Context, cfg configs.ZKServiceConfig, log hclog.Logger) (*Conn, error) {
	c, err := Dial(cfg, log, nil)
	if err != nil {
		return nil, err
	}
	if err := c.WaitSession(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := Call(ctx, c.Authenticate); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
