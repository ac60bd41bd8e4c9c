package agent

import (
	"github.com/hashicorp/go-hclog"

	"github.com/druid-sidecar/druid-sidecar/announcer"
	"github.com/druid-sidecar/druid-sidecar/configs"
	"github.com/druid-sidecar/druid-sidecar/discovery"
)

// nodeAnnouncerOption is how the node is announced: with druid.discovery.type=k8s by a JSON Patch on the pod
// (druid.discovery.k8s.*), otherwise by the announcer's own ZooKeeper internal discovery (no option).
func (a *Agent) nodeAnnouncerOption(cfg *configs.Config, log hclog.Logger) ([]announcer.Option, error) {
	if cfg.Discovery.Type != configs.DiscoveryK8s {
		return nil, nil
	}
	core, _, err := discovery.KubernetesClient()
	if err != nil {
		return nil, err
	}
	n, err := discovery.NewKubernetesAnnouncer(core, cfg, discovery.RoleHistorical,
		discovery.HistoricalNodeJSON(cfg, a.startTime, nil), log.Named("k8s"))
	if err != nil {
		return nil, err
	}
	return []announcer.Option{announcer.WithNodeAnnouncer(n)}, nil
}

// announcedWhere says where the node is announced, for messages.
func announcedWhere(cfg *configs.Config) string {
	if cfg.Discovery.Type == configs.DiscoveryK8s {
		return "Kubernetes pod $" + cfg.Discovery.K8s.PodNameEnvKey
	}
	return "ZooKeeper " + cfg.ZK.Service.Host
}
