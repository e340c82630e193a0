package yarn

import (
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// Conversions between the generated protos and yarn's Go types. This is the
// only file in which both meet. The id and resource conversions are
// exported for servers built on package ipc (the mini cluster), so that
// client and server encode them one way; clients of yarn use the typed
// methods and never see a *yarnpb.X.

// AppIDToProto encodes an application id (ApplicationIdProto).
func AppIDToProto(a ApplicationID) *yarnpb.ApplicationIdProto {
	return &yarnpb.ApplicationIdProto{Id: proto.Int32(a.ID), ClusterTimestamp: proto.Int64(a.ClusterTimestamp)}
}

// AppIDFromProto decodes an ApplicationIdProto.
func AppIDFromProto(p *yarnpb.ApplicationIdProto) ApplicationID {
	return ApplicationID{ClusterTimestamp: p.GetClusterTimestamp(), ID: p.GetId()}
}

// AttemptIDToProto encodes an attempt id (ApplicationAttemptIdProto).
func AttemptIDToProto(a AttemptID) *yarnpb.ApplicationAttemptIdProto {
	return &yarnpb.ApplicationAttemptIdProto{ApplicationId: AppIDToProto(a.App), AttemptId: proto.Int32(a.Attempt)}
}

// AttemptIDFromProto decodes an ApplicationAttemptIdProto.
func AttemptIDFromProto(p *yarnpb.ApplicationAttemptIdProto) AttemptID {
	return AttemptID{App: AppIDFromProto(p.GetApplicationId()), Attempt: p.GetAttemptId()}
}

// ContainerIDToProto encodes a container id (ContainerIdProto).
func ContainerIDToProto(c ContainerID) *yarnpb.ContainerIdProto {
	// Field 1 (app_id) is legacy and never set by 2.x/3.x writers.
	return &yarnpb.ContainerIdProto{AppAttemptId: AttemptIDToProto(c.Attempt), Id: proto.Int64(c.ID)}
}

// ContainerIDFromProto decodes a ContainerIdProto.
func ContainerIDFromProto(p *yarnpb.ContainerIdProto) ContainerID {
	return ContainerID{Attempt: AttemptIDFromProto(p.GetAppAttemptId()), ID: p.GetId()}
}

// NodeIDToProto encodes a node id (NodeIdProto).
func NodeIDToProto(n NodeID) *yarnpb.NodeIdProto {
	return &yarnpb.NodeIdProto{Host: proto.String(n.Host), Port: proto.Int32(n.Port)}
}

// NodeIDFromProto decodes a NodeIdProto.
func NodeIDFromProto(p *yarnpb.NodeIdProto) NodeID {
	return NodeID{Host: p.GetHost(), Port: p.GetPort()}
}

// Resource type names and units (ResourceInformation.MEMORY_URI, VCORES_URI).
const (
	resMemory = "memory-mb"
	resVCores = "vcores"
)

// ResourceToProto writes a resource the way Java's ResourcePBImpl does:
// memory and vcores in fields 1 and 2, and again in the map with their units.
func ResourceToProto(r Resource) *yarnpb.ResourceProto {
	p := &yarnpb.ResourceProto{Memory: proto.Int64(r.MemoryMB), VirtualCores: proto.Int32(r.VCores)}
	countable := yarnpb.ResourceTypesProto_COUNTABLE.Enum
	p.ResourceValueMap = append(p.ResourceValueMap,
		&yarnpb.ResourceInformationProto{Key: proto.String(resMemory), Value: proto.Int64(r.MemoryMB), Units: proto.String("Mi"), Type: countable()},
		&yarnpb.ResourceInformationProto{Key: proto.String(resVCores), Value: proto.Int64(int64(r.VCores)), Units: proto.String(""), Type: countable()})
	for _, k := range sortedKeys(r.Extra) {
		p.ResourceValueMap = append(p.ResourceValueMap, &yarnpb.ResourceInformationProto{Key: proto.String(k), Value: proto.Int64(r.Extra[k]), Units: proto.String(""), Type: countable()})
	}
	return p
}

// ResourceFromProto reads fields 1 and 2 (which win over map entries, as in
// Java) and keeps other map entries as Extra.
func ResourceFromProto(p *yarnpb.ResourceProto) Resource {
	r := Resource{MemoryMB: p.GetMemory(), VCores: p.GetVirtualCores()}
	for _, e := range p.GetResourceValueMap() {
		switch e.GetKey() {
		case resMemory:
			if p.Memory == nil {
				r.MemoryMB = e.GetValue()
			}
		case resVCores:
			if p.VirtualCores == nil {
				r.VCores = int32(e.GetValue())
			}
		default:
			if r.Extra == nil {
				r.Extra = map[string]int64{}
			}
			r.Extra[e.GetKey()] = e.GetValue()
		}
	}
	return r
}

func urlToProto(u URL) *yarnpb.URLProto {
	p := &yarnpb.URLProto{Scheme: proto.String(u.Scheme), File: proto.String(u.File)}
	if u.Host != "" {
		p.Host = proto.String(u.Host)
		p.Port = proto.Int32(u.Port) // always explicit: an unset port means host:0
	}
	if u.UserInfo != "" {
		p.UserInfo = proto.String(u.UserInfo)
	}
	return p
}

func urlFromProto(p *yarnpb.URLProto) URL {
	u := URL{Scheme: p.GetScheme(), Host: p.GetHost(), File: p.GetFile(), UserInfo: p.GetUserInfo(), Port: -1}
	if p.Port != nil {
		u.Port = p.GetPort()
	}
	return u
}

func localResourceToProto(r LocalResource) *yarnpb.LocalResourceProto {
	p := &yarnpb.LocalResourceProto{
		Resource:   urlToProto(r.URL),
		Size:       proto.Int64(r.Size),
		Timestamp:  proto.Int64(r.Timestamp),
		Type:       yarnpb.LocalResourceTypeProto(r.Type).Enum(),
		Visibility: yarnpb.LocalResourceVisibilityProto(r.Visibility).Enum(),
	}
	if r.Pattern != "" {
		p.Pattern = proto.String(r.Pattern)
	}
	return p
}

func localResourceFromProto(p *yarnpb.LocalResourceProto) LocalResource {
	return LocalResource{URL: urlFromProto(p.GetResource()), Size: p.GetSize(), Timestamp: p.GetTimestamp(),
		Type: LocalResourceType(p.GetType()), Visibility: Visibility(p.GetVisibility()), Pattern: p.GetPattern()}
}

// clcToProto converts a launch context. Maps are written in key order so
// that the same spec always produces the same bytes.
func clcToProto(c ContainerLaunchContext) *yarnpb.ContainerLaunchContextProto {
	p := &yarnpb.ContainerLaunchContextProto{Command: append([]string(nil), c.Commands...)}
	for _, k := range sortedKeys(c.LocalResources) {
		p.LocalResources = append(p.LocalResources, &yarnpb.StringLocalResourceMapProto{Key: proto.String(k), Value: localResourceToProto(c.LocalResources[k])})
	}
	if c.Tokens != nil {
		p.Tokens = c.Tokens.Marshal()
	}
	for _, k := range sortedKeys(c.ServiceData) {
		p.ServiceData = append(p.ServiceData, &yarnpb.StringBytesMapProto{Key: proto.String(k), Value: c.ServiceData[k]})
	}
	for _, k := range sortedKeys(c.Environment) {
		p.Environment = append(p.Environment, &yarnpb.StringStringMapProto{Key: proto.String(k), Value: proto.String(c.Environment[k])})
	}
	for _, k := range sortedKeys(c.ACLs) {
		p.Application_ACLs = append(p.Application_ACLs, &yarnpb.ApplicationACLMapProto{AccessType: yarnpb.ApplicationAccessTypeProto(k).Enum(), Acl: proto.String(c.ACLs[k])})
	}
	return p
}

// clcFromProto converts a launch context; a tokens blob that does not parse
// is an error, since the RM would refuse it too.
func clcFromProto(p *yarnpb.ContainerLaunchContextProto) (ContainerLaunchContext, error) {
	c := ContainerLaunchContext{Commands: append([]string(nil), p.GetCommand()...)}
	if len(p.GetLocalResources()) > 0 {
		c.LocalResources = map[string]LocalResource{}
		for _, e := range p.GetLocalResources() {
			c.LocalResources[e.GetKey()] = localResourceFromProto(e.GetValue())
		}
	}
	if len(p.GetEnvironment()) > 0 {
		c.Environment = map[string]string{}
		for _, e := range p.GetEnvironment() {
			c.Environment[e.GetKey()] = e.GetValue()
		}
	}
	if len(p.GetServiceData()) > 0 {
		c.ServiceData = map[string][]byte{}
		for _, e := range p.GetServiceData() {
			c.ServiceData[e.GetKey()] = e.GetValue()
		}
	}
	if len(p.GetApplication_ACLs()) > 0 {
		c.ACLs = map[ACLType]string{}
		for _, e := range p.GetApplication_ACLs() {
			c.ACLs[ACLType(e.GetAccessType())] = e.GetAcl()
		}
	}
	if p.Tokens != nil {
		creds, err := ipc.ParseCredentials(p.GetTokens())
		if err != nil {
			return c, err
		}
		c.Tokens = creds
	}
	return c, nil
}

// resourceRequestToProto is one ask entry in Java's form.
func resourceRequestToProto(priority int32, name string, capability Resource, n int32, relax bool, label string, allocID *int64) *yarnpb.ResourceRequestProto {
	p := &yarnpb.ResourceRequestProto{
		Priority:      &yarnpb.PriorityProto{Priority: proto.Int32(priority)},
		ResourceName:  proto.String(name),
		Capability:    ResourceToProto(capability),
		NumContainers: proto.Int32(n),
		RelaxLocality: proto.Bool(relax),
		ExecutionTypeRequest: &yarnpb.ExecutionTypeRequestProto{
			ExecutionType:        yarnpb.ExecutionTypeProto_GUARANTEED.Enum(),
			EnforceExecutionType: proto.Bool(false),
		},
		AllocationRequestId: allocID,
	}
	if label != "" {
		p.NodeLabelExpression = proto.String(label)
	}
	return p
}

// appSpecToProto builds the ApplicationSubmissionContext Java 3.x clients
// send: the AM size as am_container_resource_request (field 17), not field 9.
func appSpecToProto(s AppSpec) *yarnpb.ApplicationSubmissionContextProto {
	p := &yarnpb.ApplicationSubmissionContextProto{
		ApplicationId:                           AppIDToProto(s.ID),
		ApplicationName:                         proto.String(s.Name),
		Queue:                                   proto.String(orDefault(s.Queue, "default")),
		Priority:                                &yarnpb.PriorityProto{Priority: proto.Int32(s.Priority)},
		AmContainerSpec:                         clcToProto(s.AM),
		KeepContainersAcrossApplicationAttempts: proto.Bool(s.KeepContainersAcrossAttempts),
		AmContainerResourceRequest: []*yarnpb.ResourceRequestProto{
			resourceRequestToProto(0, AnyHost, s.AMResource, 1, true, s.AMNodeLabelExpression, nil),
		},
	}
	if s.Type != "" {
		p.ApplicationType = proto.String(s.Type)
	}
	if s.MaxAttempts > 0 {
		p.MaxAppAttempts = proto.Int32(s.MaxAttempts)
	}
	if s.UnmanagedAM {
		p.UnmanagedAm = proto.Bool(true)
	}
	if s.KeepTokensAfterFinish {
		p.CancelTokensWhenComplete = proto.Bool(false)
	}
	if len(s.Tags) > 0 {
		p.ApplicationTags = append([]string(nil), s.Tags...)
	}
	if s.AttemptFailuresValidityInterval > 0 {
		p.AttemptFailuresValidityInterval = proto.Int64(s.AttemptFailuresValidityInterval.Milliseconds())
	}
	if s.NodeLabelExpression != "" {
		p.NodeLabelExpression = proto.String(s.NodeLabelExpression)
	}
	if l := s.LogAggregation; l != nil {
		p.LogAggregationContext = &yarnpb.LogAggregationContextProto{
			IncludePattern: proto.String(l.IncludePattern), ExcludePattern: proto.String(l.ExcludePattern),
			RolledLogsIncludePattern: proto.String(l.RolledLogsIncludePattern), RolledLogsExcludePattern: proto.String(l.RolledLogsExcludePattern),
		}
		if l.PolicyClassName != "" {
			p.LogAggregationContext.LogAggregationPolicyClassName = proto.String(l.PolicyClassName)
			p.LogAggregationContext.LogAggregationPolicyParameters = proto.String(l.PolicyParameters)
		}
	}
	if s.Lifetime > 0 {
		p.ApplicationTimeouts = []*yarnpb.ApplicationTimeoutMapProto{{
			ApplicationTimeoutType: yarnpb.ApplicationTimeoutTypeProto_APP_TIMEOUT_LIFETIME.Enum(),
			Timeout:                proto.Int64(int64(s.Lifetime / time.Second)),
		}}
	}
	return p
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// AppReportFromProto converts an ApplicationReportProto (what
// getApplicationReport and getApplications answer) into an AppReport.
func AppReportFromProto(p *yarnpb.ApplicationReportProto) AppReport {
	r := AppReport{
		ID: AppIDFromProto(p.GetApplicationId()), CurrentAttempt: AttemptIDFromProto(p.GetCurrentApplicationAttemptId()),
		User: p.GetUser(), Queue: p.GetQueue(), Name: p.GetName(), Type: p.GetApplicationType(),
		Tags: append([]string(nil), p.GetApplicationTags()...), Host: p.GetHost(), RPCPort: p.GetRpcPort(),
		TrackingURL: p.GetTrackingUrl(), OriginalTrackingURL: p.GetOriginalTrackingUrl(), Diagnostics: p.GetDiagnostics(),
		State: AppState(p.GetYarnApplicationState()), FinalStatus: FinalStatus(p.GetFinalApplicationStatus()),
		Progress: p.GetProgress(), StartTime: msTime(p.GetStartTime()), LaunchTime: msTime(p.GetLaunchTime()),
		FinishTime: msTime(p.GetFinishTime()), SubmitTime: msTime(p.GetSubmitTime()), Priority: p.GetPriority().GetPriority(),
		Unmanaged:       p.GetUnmanagedApplication(),
		ClientToAMToken: ipc.TokenFromProto(p.GetClientToAmToken()), AMRMToken: ipc.TokenFromProto(p.GetAmRmToken()),
	}
	if u := p.GetAppResource_Usage(); u != nil {
		r.Usage = &AppUsage{
			UsedContainers: u.GetNumUsedContainers(), ReservedContainers: u.GetNumReservedContainers(),
			Used: ResourceFromProto(u.GetUsedResources()), Reserved: ResourceFromProto(u.GetReservedResources()),
			Needed: ResourceFromProto(u.GetNeededResources()), MemorySeconds: u.GetMemorySeconds(), VCoreSeconds: u.GetVcoreSeconds(),
			QueueUsagePercentage: u.GetQueueUsagePercentage(), ClusterUsagePercentage: u.GetClusterUsagePercentage(),
		}
	}
	return r
}

func containerFromProto(p *yarnpb.ContainerProto) Container {
	return Container{
		ID: ContainerIDFromProto(p.GetId()), Node: NodeIDFromProto(p.GetNodeId()), NodeHTTPAddress: p.GetNodeHttpAddress(),
		Resource: ResourceFromProto(p.GetResource()), Priority: p.GetPriority().GetPriority(),
		AllocationRequestID: p.GetAllocationRequestId(), Version: p.GetVersion(), Tags: append([]string(nil), p.GetAllocationTags()...),
		Token: ipc.TokenFromProto(p.GetContainerToken()),
	}
}

func containerStatusFromProto(p *yarnpb.ContainerStatusProto) ContainerStatus {
	s := ContainerStatus{ID: ContainerIDFromProto(p.GetContainerId()), State: ContainerState(p.GetState()),
		ExitStatus: p.GetExitStatus(), Diagnostics: p.GetDiagnostics(), Capability: ResourceFromProto(p.GetCapability())}
	for _, a := range p.GetContainerAttributes() {
		if s.Attributes == nil {
			s.Attributes = map[string]string{}
		}
		s.Attributes[a.GetKey()] = a.GetValue()
	}
	return s
}

func nodeReportFromProto(p *yarnpb.NodeReportProto) NodeReport {
	return NodeReport{
		ID: NodeIDFromProto(p.GetNodeId()), HTTPAddress: p.GetHttpAddress(), Rack: p.GetRackName(),
		Used: ResourceFromProto(p.GetUsed()), Capability: ResourceFromProto(p.GetCapability()),
		NumContainers: p.GetNumContainers(), State: NodeState(p.GetNodeState()), HealthReport: p.GetHealthReport(),
		LastHealthAt: msTime(p.GetLastHealthReportTime()), Labels: append([]string(nil), p.GetNodeLabels()...),
	}
}

func clusterMetricsFromProto(p *yarnpb.YarnClusterMetricsProto) ClusterMetrics {
	return ClusterMetrics{NodeManagers: p.GetNumNodeManagers(), Active: p.GetNumActiveNms(), Decommissioned: p.GetNumDecommissionedNms(),
		Decommissioning: p.GetNumDecommissioningNms(), Lost: p.GetNumLostNms(), Unhealthy: p.GetNumUnhealthyNms(),
		Rebooted: p.GetNumRebootedNms(), Shutdown: p.GetNumShutdownNms()}
}

func queueInfoFromProto(p *yarnpb.QueueInfoProto) QueueInfo {
	q := QueueInfo{Name: p.GetQueueName(), Path: p.GetQueuePath(), Capacity: p.GetCapacity(), MaximumCapacity: p.GetMaximumCapacity(),
		CurrentCapacity: p.GetCurrentCapacity(), AccessibleNodeLabels: append([]string(nil), p.GetAccessibleNodeLabels()...),
		DefaultNodeLabelExpression: p.GetDefaultNodeLabelExpression()}
	if p.State != nil {
		q.State = strings.TrimPrefix(p.GetState().String(), "Q_")
	}
	for _, c := range p.GetChildQueues() {
		q.Children = append(q.Children, queueInfoFromProto(c))
	}
	for _, a := range p.GetApplications() {
		q.Applications = append(q.Applications, AppReportFromProto(a))
	}
	return q
}

func sortedKeys[K ~string | ~int32, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// AnyHost is the resource name that matches every node (ResourceRequest.ANY).
const AnyHost = "*"

// DefaultRack is the rack of every node without a topology script.
const DefaultRack = "/default-rack"
