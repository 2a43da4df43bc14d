// Command netpol-oracle judges connections with the NetworkPolicy engine of
// sigs.k8s.io/kube-network-policies (SIG Network's reference NetworkPolicy
// implementation, version in go.mod), for hivewall's differential tests
// (test/oracle/README.md says why this engine and not policy-assistant).
//
// stdin: one JSON case per line (the same shape as test/oracle/cilium reads);
// stdout: one JSON line per case, {"verdicts":[{"allowed":bool}, ...]} in
// connection order, or {"error":"..."}.
//
// The engine is the one the kube-network-policies dataplane runs for the first
// packet of every connection: (*Controller).evaluatePacket, fed a packet built
// from the connection and listers filled with the case's pods, namespaces and
// (API-server-defaulted) NetworkPolicies. evaluatePacket is not exported, so it
// is reached with go:linkname; the packet struct below mirrors the module's
// unexported one field by field (pkg/networkpolicy/packet.go).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"unsafe"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

// packet mirrors sigs.k8s.io/kube-network-policies/pkg/networkpolicy.packet.
type packet struct {
	id      uint32
	family  v1.IPFamily
	srcIP   net.IP
	dstIP   net.IP
	proto   v1.Protocol
	srcPort int
	dstPort int
	payload []byte
}

//go:linkname evaluatePacket sigs.k8s.io/kube-network-policies/pkg/networkpolicy.(*Controller).evaluatePacket
func evaluatePacket(c *networkpolicy.Controller, ctx context.Context, p packet) bool

type namespaceInput struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

type portInput struct {
	Name          string `json:"name"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

type podInput struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	IPs         []string          `json:"ips"`
	Ports       []portInput       `json:"ports"`
	NodeName    string            `json:"nodeName"`
	HostNetwork bool              `json:"hostNetwork"`
}

type nodeInput struct {
	Name string   `json:"name"`
	IPs  []string `json:"ips"`
}

type peerInput struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	IP        string `json:"ip"`
}

type connectionInput struct {
	Source      peerInput `json:"source"`
	Destination peerInput `json:"destination"`
	Port        int       `json:"port"`
	Protocol    string    `json:"protocol"`
}

type caseInput struct {
	Namespaces  []namespaceInput  `json:"namespaces"`
	Pods        []podInput        `json:"pods"`
	Nodes       []nodeInput       `json:"nodes"`
	Policies    []json.RawMessage `json:"policies"`
	Connections []connectionInput `json:"connections"`
}

type verdict struct {
	Allowed bool `json:"allowed"`
}

type caseOutput struct {
	Verdicts []verdict `json:"verdicts,omitempty"`
	Error    string    `json:"error,omitempty"`
}

type engine struct {
	ctrl     *networkpolicy.Controller
	pods     cache.Indexer
	nss      cache.Indexer
	policies cache.Indexer
}

func newEngine() (*engine, error) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	podInf := factory.Core().V1().Pods()
	nsInf := factory.Core().V1().Namespaces()
	npInf := factory.Networking().V1().NetworkPolicies()
	nodeInf := factory.Core().V1().Nodes()
	ctrl, err := networkpolicy.NewController(client, npInf, nsInf, podInf, nodeInf, nil, nil, nil,
		networkpolicy.Config{NodeName: "oracle", NRIdisabled: true})
	if err != nil {
		return nil, err
	}
	// With NRI disabled the controller keeps a nil NRI plugin, yet its pod-by-IP
	// lookup falls back to it for every address that is not a pod; give it an
	// empty one (it then knows no pods, as a node without NRI would).
	f := reflect.ValueOf(ctrl).Elem().FieldByName("nriPlugin")
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.New(f.Type().Elem()))
	return &engine{
		ctrl:     ctrl,
		pods:     podInf.Informer().GetIndexer(),
		nss:      nsInf.Informer().GetIndexer(),
		policies: npInf.Informer().GetIndexer(),
	}, nil
}

func main() {
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	e, err := newEngine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netpol-oracle:", err)
		os.Exit(1)
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for {
		line, rerr := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var c caseInput
			var res caseOutput
			if jerr := json.Unmarshal(line, &c); jerr != nil {
				res.Error = "bad case: " + jerr.Error()
			} else {
				res = e.judgeCase(&c)
			}
			if eerr := enc.Encode(res); eerr != nil {
				fmt.Fprintln(os.Stderr, "netpol-oracle:", eerr)
				os.Exit(1)
			}
			if in.Buffered() == 0 {
				out.Flush()
			}
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			fmt.Fprintln(os.Stderr, "netpol-oracle:", rerr)
			os.Exit(1)
		}
	}
}

func (e *engine) judgeCase(c *caseInput) (res caseOutput) {
	defer func() {
		if r := recover(); r != nil {
			res = caseOutput{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	var nss, pods, pols []any
	for _, ns := range c.Namespaces {
		lbls := map[string]string{"kubernetes.io/metadata.name": ns.Name}
		for k, v := range ns.Labels {
			lbls[k] = v
		}
		nss = append(nss, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: lbls}})
	}
	podByName := map[string]*podInput{}
	nodeByIP := map[string]string{}
	for _, n := range c.Nodes {
		for _, ip := range n.IPs {
			nodeByIP[ip] = n.Name
		}
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		podByName[p.Namespace+"/"+p.Name] = p
		pods = append(pods, toPod(p))
	}
	for i, raw := range c.Policies {
		var np networkingv1.NetworkPolicy
		if err := json.Unmarshal(raw, &np); err != nil {
			return caseOutput{Error: fmt.Sprintf("policy %d: %v", i, err)}
		}
		if np.Kind != "NetworkPolicy" {
			return caseOutput{Error: fmt.Sprintf("policy %d: unsupported kind %q", i, np.Kind)}
		}
		stored, err := asStored(&np)
		if err != nil {
			return caseOutput{Error: fmt.Sprintf("policy %d: %v", i, err)}
		}
		pols = append(pols, stored)
	}
	if err := e.nss.Replace(nss, ""); err != nil {
		return caseOutput{Error: err.Error()}
	}
	if err := e.pods.Replace(pods, ""); err != nil {
		return caseOutput{Error: err.Error()}
	}
	if err := e.policies.Replace(pols, ""); err != nil {
		return caseOutput{Error: err.Error()}
	}
	for i, conn := range c.Connections {
		src, srcNode, err := address(&conn.Source, podByName, nodeByIP)
		if err != nil {
			return caseOutput{Error: fmt.Sprintf("connection %d: %v", i, err)}
		}
		dst, _, err := address(&conn.Destination, podByName, nodeByIP)
		if err != nil {
			return caseOutput{Error: fmt.Sprintf("connection %d: %v", i, err)}
		}
		// The dataplane accepts traffic the node's root processes send (kubelet
		// probes, system daemons) before queueing it to the evaluator ("meta skuid 0
		// accept", pkg/networkpolicy/controller.go syncNFTablesRules): a connection
		// from a pod's own node to that pod is never judged.
		if srcNode != "" {
			if dp := podOf(&conn.Destination, podByName, c.Pods); dp != nil && !dp.HostNetwork && dp.NodeName == srcNode {
				res.Verdicts = append(res.Verdicts, verdict{Allowed: true})
				continue
			}
		}
		family := v1.IPv4Protocol
		if src.To4() == nil {
			family = v1.IPv6Protocol
		}
		p := packet{
			id:      uint32(i),
			family:  family,
			srcIP:   src,
			dstIP:   dst,
			proto:   v1.Protocol(strings.ToUpper(conn.Protocol)),
			srcPort: 40000 + i%20000,
			dstPort: conn.Port,
		}
		res.Verdicts = append(res.Verdicts, verdict{Allowed: evaluatePacket(e.ctrl, context.Background(), p)})
	}
	return res
}

// address is the address a packet of this peer carries (a pod's first IP, which
// for a hostNetwork pod is its node's), and the node it belongs to, if any.
func address(p *peerInput, pods map[string]*podInput, nodeByIP map[string]string) (net.IP, string, error) {
	var s string
	node := ""
	switch p.Kind {
	case "pod":
		pod, ok := pods[p.Namespace+"/"+p.Name]
		if !ok || len(pod.IPs) == 0 {
			return nil, "", fmt.Errorf("unknown pod %s/%s", p.Namespace, p.Name)
		}
		s = pod.IPs[0]
		if pod.HostNetwork {
			node = pod.NodeName
		}
	case "ip":
		s = p.IP
		node = nodeByIP[s]
	default:
		return nil, "", fmt.Errorf("unknown peer kind %q", p.Kind)
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, "", fmt.Errorf("bad ip %q", s)
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip, node, nil
}

func podOf(p *peerInput, pods map[string]*podInput, all []podInput) *podInput {
	if p.Kind == "pod" {
		return pods[p.Namespace+"/"+p.Name]
	}
	for i := range all {
		if all[i].HostNetwork {
			continue
		}
		for _, ip := range all[i].IPs {
			if ip == p.IP {
				return &all[i]
			}
		}
	}
	return nil
}

func toPod(p *podInput) *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec:       v1.PodSpec{NodeName: p.NodeName, HostNetwork: p.HostNetwork},
		Status:     v1.PodStatus{Phase: v1.PodRunning},
	}
	container := v1.Container{Name: "main"}
	for _, port := range p.Ports {
		proto := v1.Protocol(strings.ToUpper(port.Protocol))
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		container.Ports = append(container.Ports, v1.ContainerPort{Name: port.Name, ContainerPort: port.ContainerPort, Protocol: proto})
	}
	pod.Spec.Containers = []v1.Container{container}
	for _, ip := range p.IPs {
		pod.Status.PodIPs = append(pod.Status.PodIPs, v1.PodIP{IP: ip})
	}
	if len(p.IPs) > 0 {
		pod.Status.PodIP = p.IPs[0]
	}
	return pod
}

// asStored is the policy as the controller's informer receives it from the API
// server: defaulted (setDefaults) and round-tripped through the API's encoding,
// where an empty list and an absent one are the same (omitempty; protobuf has no
// empty-versus-nil distinction), so `ingress: []` arrives as no ingress list.
func asStored(np *networkingv1.NetworkPolicy) (*networkingv1.NetworkPolicy, error) {
	setDefaults(np)
	b, err := json.Marshal(np)
	if err != nil {
		return nil, err
	}
	var out networkingv1.NetworkPolicy
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// setDefaults applies what the API server's defaulting does to a stored
// NetworkPolicy (k8s.io/kubernetes pkg/apis/networking/v1 defaults.go,
// SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort): policyTypes
// becomes [Ingress] plus Egress when the egress list is non-empty, and a port
// without protocol gets TCP. kube-network-policies reads policies as the API
// server stores them.
func setDefaults(np *networkingv1.NetworkPolicy) {
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) != 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				tcp := v1.ProtocolTCP
				ports[i].Protocol = &tcp
			}
		}
	}
	for i := range np.Spec.Ingress {
		defaultPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		defaultPorts(np.Spec.Egress[i].Ports)
	}
}
