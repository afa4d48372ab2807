package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/swerl/swerl/internal/logging"
)

// Providers.
const (
	ProviderStatic = "static" // Proto.Actor's automanaged provider: each node polls the others' /_health
	ProviderEtcd   = "etcd"
	ProviderK8s    = "k8s"
)

// DefaultManagePort is the static provider's membership endpoint (HTTP /_health).
const DefaultManagePort = 6330

// Config is how a node joins.
type Config struct {
	Name       string   // the cluster's name: nodes of other names are ignored
	Role       string   // RoleHead or RoleWorker
	Listen     string   // host:port of this node's Proto.Actor endpoint (port 0: any)
	Advertise  string   // host the others reach this node at ("": Listen's host)
	Provider   string   // ProviderStatic (default), ProviderEtcd, ProviderK8s
	Peers      []string // static: every member's membership endpoint, host:port
	ManagePort int      // static: this node's membership endpoint port (default 6330)
	Refresh    time.Duration
	Etcd       []string // etcd: endpoints (default 127.0.0.1:2379)
	Logger     hclog.Logger
}

// Node is this process's place in the cluster: the remote-enabled actor system and
// the live member list.
type Node struct {
	System  *actor.ActorSystem
	Cluster *cluster.Cluster
	*List
	self Member
}

// Self returns this node as the others see it.
func (n *Node) Self() Member { return n.self }

// Join starts the actor system, its remote endpoint and cluster membership.
func Join(cfg Config) (n *Node, err error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: --cluster NAME is empty")
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: --listen %q: want host:port (%v)", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: --listen %q: port is not a number", cfg.Listen)
	}
	if port == 0 && cfg.Advertise != "" {
		return nil, fmt.Errorf("cluster: --listen %q with --advertise %q: an advertised member needs a fixed port (e.g. --listen 0.0.0.0:8090)", cfg.Listen, cfg.Advertise)
	}
	provider, err := newProvider(cfg)
	if err != nil {
		return nil, err
	}
	system := actor.NewActorSystem(
		actor.WithDeadLetterThrottleInterval(time.Second),
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(demote{logging.SlogHandler(log.Named("protoactor"), slog.LevelWarn)})
		}))
	var ropts []remote.ConfigOption
	if cfg.Advertise != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(net.JoinHostPort(cfg.Advertise, portText)))
	}
	rcfg := remote.Configure(host, port, ropts...)
	// The role is announced as a kind; no grain of it is ever activated.
	kind := cluster.NewKind(cfg.Role, actor.PropsFromFunc(func(actor.Context) {}))
	ccfg := cluster.Configure(cfg.Name, provider, disthash.New(), rcfg, cluster.WithKinds(kind))
	c := cluster.New(system, ccfg)
	list := NewList()
	node := &Node{System: system, Cluster: c, List: list}
	system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok {
			ms := make([]Member, 0, len(t.Members))
			for _, m := range t.Members {
				ms = append(ms, memberOf(m))
			}
			list.Update(ms)
		}
	})
	defer func() {
		// The library panics when a provider cannot start; make it an error.
		if r := recover(); r != nil {
			system.Shutdown()
			n, err = nil, fmt.Errorf("cluster: joining %q with the %s provider: %v", cfg.Name, providerName(cfg), r)
		}
	}()
	c.StartMember()
	node.self = Member{ID: system.ID, Address: system.Address(), Role: cfg.Role}
	return node, nil
}

// Leave leaves the cluster and stops the actor system. The library's graceful
// shutdown can block on a peer that is gone; Leave gives it leaveTimeout, then returns
// (the process is about to exit, which the others see as the member leaving).
func (n *Node) Leave() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // the library's shutdown panics on some half-started providers
		n.Cluster.Shutdown(true)
	}()
	select {
	case <-done:
	case <-time.After(leaveTimeout):
	}
}

const leaveTimeout = 5 * time.Second

func memberOf(m *cluster.Member) Member {
	role := ""
	for _, k := range m.Kinds {
		if k == RoleHead || k == RoleWorker {
			role = k
		}
	}
	return Member{ID: m.Id, Address: m.Address(), Role: role}
}

func providerName(cfg Config) string {
	if cfg.Provider == "" {
		return ProviderStatic
	}
	return cfg.Provider
}

func newProvider(cfg Config) (cluster.ClusterProvider, error) {
	switch providerName(cfg) {
	case ProviderStatic:
		if len(cfg.Peers) == 0 {
			return nil, errors.New("cluster: the static provider needs --peers host:port,... (every member's membership endpoint, this node's included)")
		}
		for _, p := range cfg.Peers {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return nil, fmt.Errorf("cluster: --peers entry %q: want host:port (%v)", p, err)
			}
		}
		port := cfg.ManagePort
		if port == 0 {
			port = DefaultManagePort
		}
		refresh := cfg.Refresh
		if refresh <= 0 {
			refresh = 500 * time.Millisecond
		}
		return automanaged.NewWithConfig(refresh, port, cfg.Peers...), nil
	case ProviderEtcd:
		eps := cfg.Etcd
		if len(eps) == 0 {
			eps = []string{"127.0.0.1:2379"}
		}
		p, err := etcd.NewWithConfig("/swerl/"+cfg.Name, clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("cluster: etcd at %s: %w", strings.Join(eps, ","), err)
		}
		return p, nil
	case ProviderK8s:
		p, err := k8s.New()
		if err != nil {
			return nil, fmt.Errorf("cluster: the k8s provider runs only inside a pod with a service account (deploy/k8s): %w", err)
		}
		return p, nil
	default:
		return nil, fmt.Errorf("cluster: --provider %q: want static, etcd or k8s", cfg.Provider)
	}
}

// expected are the library's error and warning logs for what membership exists to
// handle: a static peer that is not up (yet, or any more), a member leaving. They are
// kept at debug level so that a worker starting before the head, or a clean shutdown,
// does not fill the log with errors.
var expected = map[string]bool{
	"Bad connection to the node health status": true,
	"Failure reaching nodes":                   true,
	"Automanaged server stopping..!":           true, // every clean shutdown
	"Got gossip request from unknown member":   true, // a member not yet (or no longer) in the list
}

// demote lowers the expected errors to debug.
type demote struct{ slog.Handler }

func (d demote) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	if expected[r.Message] {
		r.Level = slog.LevelDebug
	}
	if !d.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d demote) WithAttrs(as []slog.Attr) slog.Handler { return demote{d.Handler.WithAttrs(as)} }
func (d demote) WithGroup(g string) slog.Handler       { return demote{d.Handler.WithGroup(g)} }
