package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
	"github.com/druid-sidecar/druid-sidecar/internal/safetext"
)

func init() { register(clusterCommand()) }

func clusterCommand() *command {
	return &command{
		name:     "cluster",
		synopsis: "read the cluster from ZooKeeper: leaders, nodes by role with their versions, each data server's segments and sizes",
		usage:    "[--format table|json]",
		run:      runCluster,
	}
}

func runCluster(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet("cluster", "", env)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "table", "output format: table or json")
	if ok, code := parseArgs(env, "cluster", fs, args, format, "table", "json"); !ok {
		return code
	}
	log, err := common.logger(env.stderr)
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cluster: %v\n", err)
		return exitBadInput
	}
	cfg, code := loadConfig(env, &common)
	if cfg == nil {
		return code
	}
	connectCtx, cancel := context.WithTimeout(ctx, cfg.ZK.Service.ConnectionTimeout)
	r, err := announcer.NewClusterReader(connectCtx, cfg, log)
	cancel()
	if err != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cluster: %s: %v\n", discovery.Where(cfg), err)
		return exitBadInput
	}
	defer r.Close()
	c, readErr := r.ReadCluster(ctx)
	if *format == "json" {
		out, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			fmt.Fprintf(env.stderr, "druid-sidecar cluster: %v\n", err)
			return exitFailure
		}
		env.stdout.Write(append(out, '\n'))
	} else {
		writeClusterTable(env.stdout, c)
	}
	if readErr != nil {
		fmt.Fprintf(env.stderr, "druid-sidecar cluster: some of the cluster could not be read: %s\n", safetext.Printable(readErr.Error()))
		return exitFailure
	}
	return exitOK
}

// writeClusterTable writes what ZooKeeper holds as a table, with the columns of the Services view of Druid's web
// console: sizes for people (the JSON keeps bytes), a data server's storageSize beside its maxSize (Druid 37+; an older
// announcement's is its maxSize), and its usage of its maxSize. Every name in it was written by some process of the
// cluster, so each goes through safetext.Printable (a tab would also break the columns).
func writeClusterTable(w io.Writer, c *announcer.Cluster) {
	p := safetext.Printable
	leader := func(l *discovery.Leader) string {
		if l == nil {
			return "(none)"
		}
		return p(l.URL)
	}
	fmt.Fprintf(w, "Coordinator leader: %s\nOverlord leader:    %s\n\n", leader(c.Coordinator), leader(c.Overlord))

	inv := map[string]announcer.ServerInventory{}
	for _, s := range c.Inventory {
		inv[s.Server] = s
	}
	nodes := append([]discovery.Node(nil), c.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].Role != nodes[j].Role {
			return nodes[i].Role < nodes[j].Role
		}
		return nodes[i].Name < nodes[j].Name
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNODE\tSERVICE\tVERSION\tTIER\tSEGMENTS\tCURRENT SIZE\tMAX SIZE\tSTORAGE SIZE\tUSAGE")
	for _, n := range nodes {
		tier, maxSize, storageSize, segs, size, usage := "-", "-", "-", "-", "-", "-"
		version := n.Version
		if version == "" {
			version = "-" // an announcement from before Druid 35, which had no version
		}
		if d := n.DataNode; d != nil {
			tier, maxSize, storageSize = d.Tier, configs.FormatHumanBytes(d.MaxSize), configs.FormatHumanBytes(d.StorageSize)
		}
		if s, ok := inv[n.Name]; ok {
			segs, size = strconv.Itoa(s.Segments), configs.FormatHumanBytes(s.Bytes)
			if d := n.DataNode; d != nil && d.MaxSize > 0 {
				usage = strconv.FormatFloat(100*float64(s.Bytes)/float64(d.MaxSize), 'f', 1, 64) + "%"
			}
			delete(inv, n.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p(n.Role), p(n.Name), p(n.Service), p(version),
			p(tier), segs, size, maxSize, storageSize, usage)
	}
	// Batch inventories of servers that are not (or no longer) in internal discovery.
	rest := make([]string, 0, len(inv))
	for name := range inv {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		s := inv[name]
		fmt.Fprintf(tw, "(undiscovered)\t%s\t-\t-\t-\t%d\t%s\t-\t-\t-\n", p(name), s.Segments, configs.FormatHumanBytes(s.Bytes))
	}
	tw.Flush()
}
