// Command cilium-oracle judges connections with Cilium's own policy engine
// (github.com/cilium/cilium/pkg/policy at the version in go.mod), for hivewall's
// differential tests (test/oracle/README.md).
//
// stdin: one JSON case per line (see caseInput); stdout: one JSON line per case,
// {"verdicts":[{"egress":bool,"ingress":bool,"allowed":bool}, ...]} in connection
// order, or {"error":"..."} when Cilium rejects a policy of the case.
//
// Per case: the policies are parsed by Cilium's own parsers
// (CiliumNetworkPolicy.Parse, k8s.ParseNetworkPolicy) into a fresh policy
// Repository; every peer gets the security identity the Cilium agent would give
// it (pods: their labels + namespace labels; nodes: host / remote-node; other
// addresses: the ipcache's CIDR / FQDN label resolution, emulated in
// externalLabels); each connection is looked up with policy.LookupFlow, which
// resolves and distills the per-identity policy map and queries it for
// (source identity, destination identity, port, protocol), egress and ingress.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/cilium/dns"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	"github.com/cilium/cilium/pkg/k8s"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_networkingv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/option"
	"github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	testidentity "github.com/cilium/cilium/pkg/testutils/identity"
	testpolicy "github.com/cilium/cilium/pkg/testutils/policy"
	pkgtypes "github.com/cilium/cilium/pkg/types"
	"github.com/cilium/cilium/pkg/u8proto"
)

// clusterName is the agent's --cluster-name; policies are parsed with it
// (policy-default-local-cluster is on by default) and every pod carries it.
const clusterName = "default"

type namespaceInput struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

type portInput struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

type podInput struct {
	Namespace      string            `json:"namespace"`
	Name           string            `json:"name"`
	Labels         map[string]string `json:"labels"`
	IPs            []string          `json:"ips"`
	Ports          []portInput       `json:"ports"`
	NodeName       string            `json:"nodeName"`
	HostNetwork    bool              `json:"hostNetwork"`
	ServiceAccount string            `json:"serviceAccount"`
}

type nodeInput struct {
	Name string   `json:"name"`
	IPs  []string `json:"ips"`
}

type peerInput struct {
	Kind      string   `json:"kind"` // "pod" or "ip"
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	IP        string   `json:"ip"`
	DNSNames  []string `json:"dnsNames"`
}

type connectionInput struct {
	Source      peerInput `json:"source"`
	Destination peerInput `json:"destination"`
	Port        int       `json:"port"`
	Protocol    string    `json:"protocol"`
}

type caseInput struct {
	Namespaces       []namespaceInput  `json:"namespaces"`
	Pods             []podInput        `json:"pods"`
	Nodes            []nodeInput       `json:"nodes"`
	KubeApiserverIPs []string          `json:"kubeApiserverIPs"`
	Policies         []json.RawMessage `json:"policies"`
	Connections      []connectionInput `json:"connections"`
}

type verdict struct {
	Egress  bool `json:"egress"`
	Ingress bool `json:"ingress"`
	Allowed bool `json:"allowed"`
}

type caseOutput struct {
	Verdicts []verdict `json:"verdicts,omitempty"`
	Error    string    `json:"error,omitempty"`
}

func main() {
	api.InitEntities(clusterName)
	// The agent in Kubernetes mode turns the default allow-localhost=auto into "always"
	// (daemon/cmd/daemon.go: "Kubernetes demands that the localhost can always reach local pods").
	option.Config.UnsafeDaemonConfigOption.AllowLocalhost = option.AllowLocalhostAlways
	logger := slog.New(slog.DiscardHandler)
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var c caseInput
			var res caseOutput
			if jerr := json.Unmarshal(line, &c); jerr != nil {
				res.Error = "bad case: " + jerr.Error()
			} else {
				res = judgeCase(logger, &c)
			}
			if eerr := enc.Encode(res); eerr != nil {
				fmt.Fprintln(os.Stderr, "cilium-oracle:", eerr)
				os.Exit(1)
			}
			if err == io.EOF || in.Buffered() == 0 {
				out.Flush()
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cilium-oracle:", err)
			os.Exit(1)
		}
	}
}

// judgeCase never panics out: a panic inside Cilium's code is reported as the case's error.
func judgeCase(logger *slog.Logger, c *caseInput) (res caseOutput) {
	defer func() {
		if r := recover(); r != nil {
			res = caseOutput{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	entries, fqdns, err := parsePolicies(logger, c.Policies)
	if err != nil {
		return caseOutput{Error: err.Error()}
	}
	w := newWorld(c, policy.GetCIDRPrefixes(entries), fqdns)
	// Every peer's identity exists before the repository is built: its selector
	// cache is seeded with them (as the agent's is by the allocator and ipcache).
	flows := make([]resolvedFlow, len(c.Connections))
	for i := range c.Connections {
		if flows[i], err = w.resolve(&c.Connections[i]); err != nil {
			return caseOutput{Error: fmt.Sprintf("connection %d: %v", i, err)}
		}
	}

	idManager := identitymanager.NewIDManager(logger)
	repo := policy.NewPolicyRepository(logger, w.idmap, nil, nil, idManager, testpolicy.NewPolicyMetricsNoop())
	repo.GetSelectorCache().SetLocalIdentityNotifier(testidentity.NewDummyIdentityNotifier())
	idManager.Subscribe(testpolicy.SelectorCacheObserver{Cache: repo.GetSubjectSelectorCache()})
	repo.SetNamedPortsGetter(w)
	repo.MustAddPolicyEntries(entries)

	for i := range flows {
		v, err := judge(logger, repo, idManager, &flows[i])
		if err != nil {
			return caseOutput{Error: fmt.Sprintf("connection %d: %v", i, err)}
		}
		res.Verdicts = append(res.Verdicts, v)
	}
	return res
}

// parsePolicies turns CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
// NetworkPolicy objects into policy entries with Cilium's own parsers, and
// collects their toFQDNs selectors (the DNS proxy labels addresses by them).
func parsePolicies(logger *slog.Logger, raw []json.RawMessage) (policytypes.PolicyEntries, []api.FQDNSelector, error) {
	var entries policytypes.PolicyEntries
	var fqdns []api.FQDNSelector
	for i, r := range raw {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(r, &meta); err != nil {
			return nil, nil, fmt.Errorf("policy %d: %w", i, err)
		}
		switch meta.Kind {
		case "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy":
			var cnp ciliumv2.CiliumNetworkPolicy
			if err := json.Unmarshal(r, &cnp); err != nil {
				return nil, nil, fmt.Errorf("policy %d: %w", i, err)
			}
			if meta.Kind == "CiliumClusterwideNetworkPolicy" {
				cnp.Namespace = ""
			} else if cnp.Namespace == "" {
				return nil, nil, fmt.Errorf("policy %d: CiliumNetworkPolicy without namespace", i)
			}
			rules, err := cnp.Parse(logger, clusterName)
			if err != nil {
				return nil, nil, fmt.Errorf("policy %d (%s): %w", i, cnp.Name, err)
			}
			entries = append(entries, policyutils.RulesToPolicyEntries(rules)...)
		case "NetworkPolicy":
			var np slim_networkingv1.NetworkPolicy
			if err := json.Unmarshal(r, &np); err != nil {
				return nil, nil, fmt.Errorf("policy %d: %w", i, err)
			}
			es, err := k8s.ParseNetworkPolicy(logger, clusterName, &np)
			if err != nil {
				return nil, nil, fmt.Errorf("policy %d (%s): %w", i, np.Name, err)
			}
			entries = append(entries, es...)
		default:
			return nil, nil, fmt.Errorf("policy %d: unsupported kind %q", i, meta.Kind)
		}
	}
	for _, e := range entries {
		for _, sel := range e.L3 {
			if f, ok := sel.GetFQDNSelector(); ok {
				fqdns = append(fqdns, *f)
			}
		}
	}
	return entries, fqdns, nil
}

// world holds the identities of one case, as the agent's identity allocator and
// ipcache would have them.
type world struct {
	c        *caseInput
	idmap    identity.IdentityMap
	byKey    map[string]*identity.Identity // sorted label string -> identity
	nextID   identity.NumericIdentity      // next node-local identity (CIDR, FQDN, kube-apiserver)
	nextPod  identity.NumericIdentity      // next cluster-scoped identity (pods)
	pods     map[string]*podInput          // ns/name
	podByIP  map[string]*podInput
	nodeByIP map[string]string
	apiIPs   map[string]bool
	prefixes []netip.Prefix
	fqdns    []fqdnMatcher
	named    pkgtypes.NamedPortMultiMap
	podIDs   map[string]*identity.Identity
}

type fqdnMatcher struct {
	label labels.Label
	re    *regexp.Regexp
}

func newWorld(c *caseInput, prefixes []netip.Prefix, fqdns []api.FQDNSelector) *world {
	w := &world{
		c:        c,
		idmap:    identity.IdentityMap{},
		byKey:    map[string]*identity.Identity{},
		nextID:   identity.IdentityScopeLocal + 1,
		nextPod:  identity.GetMinimalAllocationIdentity(0),
		pods:     map[string]*podInput{},
		podByIP:  map[string]*podInput{},
		nodeByIP: map[string]string{},
		apiIPs:   map[string]bool{},
		prefixes: prefixes,
		podIDs:   map[string]*identity.Identity{},
	}
	identity.IterateReservedIdentities(func(_ identity.NumericIdentity, id *identity.Identity) {
		w.idmap[id.ID] = id.LabelArray
		w.byKey[string(id.Labels.SortedList())] = id
	})
	for _, f := range fqdns {
		re, err := f.ToRegex()
		if err != nil {
			continue // Sanitize already rejected invalid selectors
		}
		w.fqdns = append(w.fqdns, fqdnMatcher{label: f.IdentityLabel(), re: re})
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range c.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	for _, n := range c.Nodes {
		for _, ip := range n.IPs {
			w.nodeByIP[ip] = n.Name
		}
	}
	for _, ip := range c.KubeApiserverIPs {
		w.apiIPs[ip] = true
	}
	npm := pkgtypes.NewNamedPortMultiMap()
	byID := map[identity.NumericIdentity]pkgtypes.NamedPortMap{}
	for i := range c.Pods {
		p := &c.Pods[i]
		w.pods[p.Namespace+"/"+p.Name] = p
		if p.HostNetwork {
			continue // a hostNetwork pod is its node to Cilium
		}
		for _, ip := range p.IPs {
			w.podByIP[ip] = p
		}
		id := w.podIdentity(podLabels(p, nsLabels[p.Namespace]))
		w.podIDs[p.Namespace+"/"+p.Name] = id
		ports := pkgtypes.NamedPortMap{}
		for _, port := range p.Ports {
			if port.Name == "" {
				continue
			}
			proto, err := u8proto.ParseProtocol(port.Protocol)
			if err != nil {
				continue
			}
			ports[port.Name] = pkgtypes.PortProto{Proto: proto, Port: uint16(port.ContainerPort)}
		}
		old := byID[id.ID]
		merged := pkgtypes.NamedPortMap{}
		for k, v := range old {
			merged[k] = v
		}
		for k, v := range ports {
			merged[k] = v
		}
		npm.Update(id.ID, old, merged)
		byID[id.ID] = merged
	}
	w.named = npm
	return w
}

// GetNamedPorts implements policy.NamedPortsGetter (the ipcache's role in the agent).
func (w *world) GetNamedPorts() pkgtypes.NamedPortMultiMap { return w.named }

// podLabels are the security-relevant labels the agent derives for a pod:
// its labels, its namespace, its namespace's labels, service account and cluster.
func podLabels(p *podInput, nsLabels map[string]string) labels.Labels {
	lbls := labels.Labels{}
	add := func(k, v string) {
		l := labels.NewLabel(k, v, labels.LabelSourceK8s)
		lbls[l.Key] = l
	}
	for k, v := range p.Labels {
		add(k, v)
	}
	add("io.kubernetes.pod.namespace", p.Namespace)
	ns := map[string]string{"kubernetes.io/metadata.name": p.Namespace}
	for k, v := range nsLabels {
		ns[k] = v
	}
	for k, v := range ns {
		add("io.cilium.k8s.namespace.labels."+k, v)
	}
	// The ServiceAccount admission plugin sets spec.serviceAccountName to "default" when absent.
	sa := p.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	add("io.cilium.k8s.policy.serviceaccount", sa)
	add("io.cilium.k8s.policy.cluster", clusterName)
	return lbls
}

// podIdentity returns the cluster-scoped identity of a pod with these labels
// (pods with equal labels share one, as the allocator gives them).
func (w *world) podIdentity(lbls labels.Labels) *identity.Identity {
	key := string(lbls.SortedList())
	if id, ok := w.byKey[key]; ok {
		return id
	}
	id := identity.NewIdentity(w.nextPod, lbls)
	w.nextPod++
	w.byKey[key] = id
	w.idmap[id.ID] = id.LabelArray
	return id
}

// identityFor returns the identity with exactly these labels: a reserved one when
// the labels are a reserved identity's, else a (new) node-local one, as the
// ipcache allocates for CIDR, FQDN and kube-apiserver labels.
func (w *world) identityFor(lbls labels.Labels) *identity.Identity {
	key := string(lbls.SortedList())
	if id, ok := w.byKey[key]; ok {
		return id
	}
	if id := identity.LookupReservedIdentityByLabels(lbls); id != nil {
		w.byKey[key] = id
		w.idmap[id.ID] = id.LabelArray
		return id
	}
	id := identity.NewIdentity(w.nextID, lbls)
	w.nextID++
	w.byKey[key] = id
	w.idmap[id.ID] = id.LabelArray
	return id
}

// externalLabels emulates the ipcache's label resolution for an address that is
// neither a pod nor a node (pkg/ipcache/metadata.go resolveIdentity and
// resolveLabels): the labels of every policy prefix containing it are merged
// down to it, plus the fqdn: labels of every toFQDNs selector that matches one
// of its DNS names (pkg/fqdn/namemanager/manager.go deriveLabelsForName), plus
// reserved:kube-apiserver for a kube-apiserver backend, and, as it is not an
// in-cluster entity, reserved:world.
func (w *world) externalLabels(addr netip.Addr, dnsNames []string, apiserver bool) labels.Labels {
	lbls := labels.Labels{}
	for _, p := range w.prefixes {
		if p.Contains(addr) {
			for k, v := range labels.GetCIDRLabels(p) {
				if v.Source == labels.LabelSourceCIDR {
					lbls[k] = v
				}
			}
		}
	}
	for _, name := range dnsNames {
		fq := dns.Fqdn(strings.ToLower(name))
		for _, f := range w.fqdns {
			if f.re.MatchString(fq) {
				lbls[f.label.Key] = f.label
			}
		}
	}
	if apiserver {
		for k, l := range labels.LabelKubeAPIServer {
			lbls[k] = l
		}
	}
	lbls.AddWorldLabel(addr)
	return lbls
}

// peerIdentity resolves one side of a connection. other is the pod on the other
// side, if any: a node address is reserved:host when it is that pod's node and
// reserved:remote-node otherwise (the agent judges from the pod's node).
func (w *world) peerIdentity(p *peerInput, other *podInput) (*identity.Identity, *podInput, error) {
	switch p.Kind {
	case "pod":
		pod, ok := w.pods[p.Namespace+"/"+p.Name]
		if !ok {
			return nil, nil, fmt.Errorf("unknown pod %s/%s", p.Namespace, p.Name)
		}
		if !pod.HostNetwork {
			return w.podIDs[p.Namespace+"/"+p.Name], pod, nil
		}
		return w.nodeIdentity(pod.NodeName, other, w.nodeIsAPIServer(pod.NodeName)), nil, nil
	case "ip":
		addr, err := netip.ParseAddr(p.IP)
		if err != nil {
			return nil, nil, fmt.Errorf("bad ip %q", p.IP)
		}
		if pod, ok := w.podByIP[addr.String()]; ok {
			return w.podIDs[pod.Namespace+"/"+pod.Name], pod, nil
		}
		if node, ok := w.nodeByIP[addr.String()]; ok {
			return w.nodeIdentity(node, other, w.apiIPs[addr.String()]), nil, nil
		}
		return w.identityFor(w.externalLabels(addr, p.DNSNames, w.apiIPs[addr.String()])), nil, nil
	}
	return nil, nil, fmt.Errorf("unknown peer kind %q", p.Kind)
}

// nodeIdentity: reserved:host or reserved:remote-node, plus reserved:kube-apiserver when the
// kube-apiserver runs on that node (the ipcache merges both labels; an in-cluster entity gets
// neither world nor CIDR labels, pkg/ipcache/metadata.go resolveLabels).
func (w *world) nodeIdentity(node string, other *podInput, apiserver bool) *identity.Identity {
	lbls := labels.Labels{}
	if other != nil && other.NodeName == node {
		lbls[labels.IDNameHost] = labels.NewLabel(labels.IDNameHost, "", labels.LabelSourceReserved)
	} else {
		lbls[labels.IDNameRemoteNode] = labels.NewLabel(labels.IDNameRemoteNode, "", labels.LabelSourceReserved)
	}
	if apiserver {
		for k, l := range labels.LabelKubeAPIServer {
			lbls[k] = l
		}
	}
	return w.identityFor(lbls)
}

func (w *world) nodeIsAPIServer(node string) bool {
	for _, n := range w.c.Nodes {
		if n.Name == node {
			for _, ip := range n.IPs {
				if w.apiIPs[ip] {
					return true
				}
			}
		}
	}
	return false
}

// resolvedFlow is a connection with both peers' identities.
type resolvedFlow struct {
	flow           policytypes.Flow
	srcPod, dstPod *podInput
}

func (w *world) resolve(c *connectionInput) (resolvedFlow, error) {
	proto, err := u8proto.ParseProtocol(c.Protocol)
	if err != nil {
		return resolvedFlow{}, err
	}
	// Resolve pods first: a node's identity depends on the pod on the other side.
	srcPod, dstPod := w.podOf(&c.Source), w.podOf(&c.Destination)
	from, _, err := w.peerIdentity(&c.Source, dstPod)
	if err != nil {
		return resolvedFlow{}, err
	}
	to, _, err := w.peerIdentity(&c.Destination, srcPod)
	if err != nil {
		return resolvedFlow{}, err
	}
	flow := policytypes.Flow{From: from, To: to, Proto: proto, Dport: uint16(c.Port)}
	if dstPod != nil {
		flow.NamedPortsTCP, flow.NamedPortsUDP = namedPorts(dstPod)
	}
	return resolvedFlow{flow: flow, srcPod: srcPod, dstPod: dstPod}, nil
}

func judge(logger *slog.Logger, repo *policy.Repository, idm identitymanager.IDManager, f *resolvedFlow) (verdict, error) {
	res, _, _, err := policy.LookupFlow(logger, repo, idm, f.flow)
	if err != nil {
		return verdict{}, err
	}
	v := verdict{
		Egress:  res.Egress == policytypes.DecisionAllowed,
		Ingress: res.Ingress == policytypes.DecisionAllowed,
	}
	// Only endpoints (pods) enforce policy: a node or an outside address has no
	// egress or ingress policy of its own.
	v.Allowed = (f.srcPod == nil || v.Egress) && (f.dstPod == nil || v.Ingress)
	return v, nil
}

// podOf is the pod-network pod a peer resolves to, if any.
func (w *world) podOf(p *peerInput) *podInput {
	switch p.Kind {
	case "pod":
		if pod, ok := w.pods[p.Namespace+"/"+p.Name]; ok && !pod.HostNetwork {
			return pod
		}
	case "ip":
		if addr, err := netip.ParseAddr(p.IP); err == nil {
			return w.podByIP[addr.String()]
		}
	}
	return nil
}

func namedPorts(p *podInput) (tcp, udp map[string]uint16) {
	tcp, udp = map[string]uint16{}, map[string]uint16{}
	for _, port := range p.Ports {
		if port.Name == "" {
			continue
		}
		switch strings.ToUpper(port.Protocol) {
		case "TCP", "":
			tcp[port.Name] = uint16(port.ContainerPort)
		case "UDP":
			udp[port.Name] = uint16(port.ContainerPort)
		}
	}
	return tcp, udp
}
