package launch

import (
	"os"
	"regexp"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
)

// Description is the full submission without submitting it (--dry-run):
// what the RM and the AM would receive. Secrets are redacted. It is an
// API (JSON, snake_case): fields are only ever added.
type Description struct {
	AppID         string              `json:"app_id,omitempty"`
	Name          string              `json:"name"`
	Queue         string              `json:"queue"`
	Type          string              `json:"type"`
	Priority      int32               `json:"priority"`
	Tags          []string            `json:"tags"`
	NodeLabel     string              `json:"node_label,omitempty"`
	MaxAttempts   int32               `json:"max_attempts"`
	KeepContainer bool                `json:"keep_containers_across_attempts"`
	AMResource    ResourceJSON        `json:"am_resource"`
	MaxResource   *ResourceJSON       `json:"cluster_max_resource,omitempty"`
	AM            LaunchJSON          `json:"am"`
	JobManager    ProcessJSON         `json:"jobmanager"`
	TaskManagers  TaskManagersJSON    `json:"taskmanagers"`
	Staging       string              `json:"staging_dir"`
	Tokens        []string            `json:"tokens"`
	Restart       amapi.RestartPolicy `json:"restart"`
	Mode          amapi.Mode          `json:"mode"`
	// Processes are the payload's processes as its launchers will run
	// them (amapi.Previewer; Flink's JVMs), secrets redacted; absent for
	// a payload that runs its command as it is.
	Processes []amapi.ProcessPreview `json:"processes,omitempty"`
}

// ResourceJSON is a container size.
type ResourceJSON struct {
	MemoryMB int64 `json:"memory_mb"`
	VCores   int32 `json:"vcores"`
}

// LaunchJSON is a container launch context.
type LaunchJSON struct {
	Commands       []string              `json:"commands"`
	Environment    map[string]string     `json:"environment"`
	LocalResources map[string]PlannedRes `json:"local_resources"`
}

// ProcessJSON is the JobManager process the AM starts.
type ProcessJSON struct {
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
}

// TaskManagersJSON is the fleet.
type TaskManagersJSON struct {
	Count          int                   `json:"count"`
	Resource       ResourceJSON          `json:"resource"`
	Command        string                `json:"command"`
	Environment    map[string]string     `json:"environment"`
	LocalResources map[string]PlannedRes `json:"local_resources"`
}

// PlannedRes is a local file to be staged as a LocalResource.
type PlannedRes struct {
	Source     string `json:"source"`
	Size       int64  `json:"size"`
	Type       string `json:"type"`
	Visibility string `json:"visibility"`
}

// Redacted replaces secret values in descriptions.
const Redacted = "<redacted>"

// secretName matches variable names that hold secrets: *PASS* (password,
// passwd, passphrase), *PWD*, *SECRET*, *TOKEN*, *KEY* (keys, keystores),
// credentials, keytabs and anything marked _PRIVATE.
var secretName = regexp.MustCompile(`(?i)(` + secretWords + `)`)

// secretWords are the words that mark a name as a secret's (secretName,
// secretProperty).
const secretWords = `pass|pwd|secret|token|key|credential|private`

// urlPassword matches the password of a user:password@ URL.
// (A password may hold '/', as cloud keys do; a host:port/path@… is
// redacted too, which errs on the safe side.)
var urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:)[^@\s]*@`)

// redactValue replaces the passwords of user:password@ URLs in v.
func redactValue(v string) string { return urlPassword.ReplaceAllString(v, "${1}"+Redacted+"@") }

func redactEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if secretName.MatchString(k) {
			v = Redacted
		}
		out[k] = redactValue(v)
	}
	return out
}

// RedactPreviews returns pv with secrets redacted: the values of
// configuration keys named like secrets (as environment variables are),
// and the passwords of user:password@ URLs in values and command lines.
func RedactPreviews(pv []amapi.ProcessPreview) []amapi.ProcessPreview {
	out := make([]amapi.ProcessPreview, len(pv))
	for i, p := range pv {
		p.Command = append([]string(nil), p.Command...)
		for j, a := range p.Command {
			p.Command[j] = redactArg(a)
		}
		p.Config = append([]amapi.ConfigEntry(nil), p.Config...)
		for j, e := range p.Config {
			if secretName.MatchString(e.Key) {
				p.Config[j].Value = Redacted
			} else {
				p.Config[j].Value = redactArg(e.Value)
			}
		}
		out[i] = p
	}
	return out
}

// secretProperty matches a -Dkey=value whose key is named like a secret
// (a JVM option: -Djavax.net.ssl.keyStorePassword=…), alone or among
// other words (env.java.opts).
var secretProperty = regexp.MustCompile(`(?i)((?:^|\s)-D[^=\s]*(?:` + secretWords + `)[^=\s]*=)\S*`)

// redactArg redacts the values of -Dkey=value words whose key is named
// like a secret, and URL passwords.
func redactArg(a string) string {
	return redactValue(secretProperty.ReplaceAllString(a, "${1}"+Redacted))
}

// Describe returns what Submit would send for sub, staged by st; tokens
// names the delegation tokens it would add (their kinds and services).
func Describe(sub *Submission, st *hdfs.Stager, tokens []string) Description {
	d := Description{Name: sub.App.Name, Queue: sub.App.Queue, Type: sub.App.Type, Priority: sub.App.Priority, Tags: sub.App.Tags,
		NodeLabel: sub.App.NodeLabelExpression, MaxAttempts: sub.App.MaxAttempts, KeepContainer: sub.App.KeepContainersAcrossAttempts,
		AMResource: ResourceJSON{sub.App.AMResource.MemoryMB, sub.App.AMResource.VCores}, Mode: sub.Spec.Mode, Restart: sub.Spec.Restart,
		Tokens: tokens}
	if d.Queue == "" {
		d.Queue = "default"
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Tokens == nil {
		d.Tokens = []string{}
	}
	if sub.App.ID.ClusterTimestamp != 0 {
		d.AppID = sub.App.ID.String()
		if st != nil {
			d.Staging = st.URL(st.StagingDir(d.AppID))
		}
	}
	if sub.MaxResource.MemoryMB > 0 {
		d.MaxResource = &ResourceJSON{sub.MaxResource.MemoryMB, sub.MaxResource.VCores}
	}
	amRes, tmRes := map[string]PlannedRes{}, map[string]PlannedRes{}
	for gi, g := range [][]hdfs.Source{sub.Shared, sub.AMFiles, sub.TMFiles} {
		for _, s := range g {
			for name, pr := range plannedFiles(s) {
				if gi != 2 {
					amRes[name] = pr
				}
				if gi != 1 {
					tmRes[name] = pr
				}
			}
		}
	}
	if k, ok := amRes[amapi.KeytabFile]; ok && sub.Spec.Kerberos != nil {
		k.Source = Redacted + " (--keytab)"
		amRes[amapi.KeytabFile] = k
	}
	for name := range sub.Private {
		pr := PlannedRes{Source: Redacted + " (private: written at submit, mode 0600)", Type: "FILE", Visibility: "APPLICATION"}
		amRes[name], tmRes[name] = pr, pr
	}
	amRes[amapi.SpecFile] = PlannedRes{Source: "generated at submit", Type: "FILE", Visibility: "APPLICATION"}
	amRes[amapi.StopSecretFile] = PlannedRes{Source: Redacted + " (generated at submit)", Type: "FILE", Visibility: "APPLICATION"}
	d.AM = LaunchJSON{Commands: []string{sub.AMCommand}, Environment: redactEnv(sub.AMEnv), LocalResources: amRes}
	d.JobManager = ProcessJSON{Command: sub.Spec.JobManager.Command, Environment: redactEnv(sub.Spec.JobManager.Env)}
	tm := sub.Spec.TaskManagers
	vc := tm.VCores
	if vc == 0 {
		vc = 1
	}
	d.TaskManagers = TaskManagersJSON{Count: tm.Count, Resource: ResourceJSON{tm.MemoryMB, vc}, Command: tm.Command,
		Environment: redactEnv(tm.Env), LocalResources: tmRes}
	return d
}

// plannedFiles lists the resources one source becomes, as Stage names them.
func plannedFiles(s hdfs.Source) map[string]PlannedRes {
	name := resourceName(s)
	out := map[string]PlannedRes{}
	fi, err := os.Stat(s.Path)
	if err != nil {
		out[name] = PlannedRes{Source: s.Path, Size: -1, Type: "FILE", Visibility: "APPLICATION"}
		return out
	}
	vis := "PRIVATE" // through the user's upload cache
	if s.NoCache {
		vis = "APPLICATION"
	}
	if !fi.IsDir() || s.Archive {
		typ := "FILE"
		if s.Archive {
			typ = "ARCHIVE"
		}
		out[name] = PlannedRes{Source: s.Path, Size: fi.Size(), Type: typ, Visibility: vis}
		return out
	}
	ents, _ := hdfs.WalkTree(s.Path, s.ConfineLinks) // Prepare reported a refused link
	for _, e := range ents {
		if e.Info.Mode().IsRegular() {
			out[name+"/"+e.Rel] = PlannedRes{Source: e.Path, Size: e.Info.Size(), Type: "FILE", Visibility: vis}
		}
	}
	return out
}

// TokenNames lists credentials as "kind service" without their bytes.
