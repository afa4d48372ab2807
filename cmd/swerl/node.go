package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/cluster/membership"
	"github.com/swerl/swerl/cluster/node"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/sandbox/docker"
)

// clusterFlags are the flags every cluster member takes.
type clusterFlags struct {
	name, peers, listen, advertise, provider, etcd string
	managePort                                     int
	leaseTTL                                       time.Duration
}

func (f *clusterFlags) register(fs *flag.FlagSet, defaultListen string) {
	fs.StringVar(&f.name, "cluster", "", "cluster name: run as a member of this Proto.Actor cluster")
	fs.StringVar(&f.peers, "peers", "", "static provider: every member's membership endpoint, host:port,... (this node's included)")
	fs.StringVar(&f.listen, "listen", defaultListen, "host:port of this node's Proto.Actor endpoint")
	fs.StringVar(&f.advertise, "advertise", "", "host the other members reach this node at (default: --listen's host)")
	fs.StringVar(&f.provider, "provider", membership.ProviderStatic, "membership: static (--peers, no outside service), etcd (--etcd) or k8s (in a pod)")
	fs.StringVar(&f.etcd, "etcd", "127.0.0.1:2379", "etcd provider: endpoints, comma-separated")
	fs.IntVar(&f.managePort, "manage-port", membership.DefaultManagePort, "static provider: this node's membership endpoint port (HTTP /_health)")
	fs.DurationVar(&f.leaseTTL, "lease", 5*time.Second, "how long a worker runs the head's episodes without hearing from it")
}

func (f *clusterFlags) join(role string, log hclog.Logger) (*membership.Node, error) {
	return membership.Join(membership.Config{Name: f.name, Role: role, Listen: f.listen, Advertise: f.advertise,
		Provider: f.provider, Peers: splitList(f.peers), ManagePort: f.managePort, Etcd: splitList(f.etcd), Logger: log})
}

// nodeCmd runs a worker: it joins the cluster and runs the episodes the head places on
// it until SIGINT or SIGTERM.
func nodeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clusterFlags
	cf.register(fs, "127.0.0.1:0")
	var wf watchFlags
	wf.register(fs, false, "info")
	slots := fs.Int("slots", 4, "episodes this worker runs at once (its sandbox cap), announced to the head")
	latency := fs.Duration("sandbox-latency", 0, "SimSWE sandboxes: added to every start and command (latency-bound sandboxes, for capacity measurements)")
	taskFile := fs.String("tasks", "", "task file (or 'builtin') of the head's `swerl rollout --cluster`: this worker runs its tasks")
	backend := fs.String("sandbox", engine.SandboxLocal, "sandbox backend for --tasks: local or docker")
	sandboxLease := fs.Duration("sandbox-lease", docker.DefaultLeaseTTL, "docker sandboxes: their lease; if this process dies, even by kill -9, its containers go within it and a few seconds")
	mirror := fs.String("repos", "", "directory of local clones for tasks that are not built in (owner__name)")
	checkouts := fs.String("checkouts", "", "directory for prepared task repositories (default: user cache)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cf.name == "" {
		return errors.New("node: --cluster NAME is required (and --peers for the static provider)")
	}
	if *slots < 1 {
		return fmt.Errorf("node: --slots %d: need at least 1", *slots)
	}
	watch, err := wf.start(stderr, "swerl-node")
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	defer watch.Stop()
	log := watch.Log
	n, err := cf.join(membership.RoleWorker, log)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	sims := &node.SimWorlds{Latency: *latency}
	worlds := &node.MultiWorlds{Sim: sims}
	if *taskFile != "" {
		tasks, snaps, err := engine.LoadTaskFile(*taskFile)
		if err != nil && len(tasks) == 0 {
			return fmt.Errorf("node: --tasks %s: %w", *taskFile, err)
		}
		if err != nil {
			log.Warn("task file has bad lines (their tasks are not run here)", "file", *taskFile, "error", err)
		}
		world, err := engine.OpenWorld(ctx, engine.WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: *backend,
			CheckoutDir: *checkouts, Mirror: *mirror, Docker: engine.DockerConfig{LeaseTTL: *sandboxLease}})
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			world.Close(cctx)
		}()
		ids := map[string]bool{}
		for _, r := range world.Refs {
			ids[r.ID] = true
		}
		worlds.Tasks = &node.TaskWorlds{IDs: ids, Sandboxes: world.Sandboxes, Grader: world.Grader}
	}
	w, err := node.StartWorker(n.System, node.WorkerConfig{Slots: *slots, Worlds: worlds, Policies: &node.Policies{}, Logger: log,
		Observer: watch.Watcher})
	if err != nil {
		n.Leave()
		return fmt.Errorf("node: %w", err)
	}
	fmt.Fprintf(stdout, "worker %s at %s in cluster %q: %d slots\n", n.Self().ID, n.Self().Address, cf.name, *slots)
	<-ctx.Done()
	log.Info("stopping: episodes stop and their sandboxes are removed", "running", w.Running())
	w.Stop()
	n.Leave()
	s := w.Stats()
	fmt.Fprintf(stdout, "worker stopped: %d episodes started, %d recorded, %d stopped when cut off from the head, %d cancelled by it; %d sandboxes open\n",
		s.Started, s.Recorded, s.CutOff, s.Cancelled, sims.OpenSandboxes())
	return nil
}

// startHead joins the cluster as its head.
func startHead(cf *clusterFlags, log hclog.Logger) (*node.Head, func(), error) {
	log = log.Named("head")
	n, err := cf.join(membership.RoleHead, log)
	if err != nil {
		return nil, nil, err
	}
	h, err := node.NewHead(n.System, n, node.HeadConfig{LeaseTTL: cf.leaseTTL, Logger: log})
	if err != nil {
		n.Leave()
		return nil, nil, err
	}
	log.Info("head started", "id", n.Self().ID, "address", n.Self().Address, "cluster", cf.name, "epoch", h.Epoch())
	return h, func() {
		s := h.Stats()
		log.Info("cluster summary", "placed", s.Placed, "node_lost", s.NodeLost, "late_dropped", s.LateDropped,
			"gave_up", s.GaveUp, "workers_lost", s.WorkersLost, "last_replaced", s.LastReplaced)
		h.Close()
		n.Leave()
	}, nil
}
