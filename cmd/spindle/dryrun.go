package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/launch"
)

// dryRun prints the submission: -o json the whole launch.Description as
// one object; text a summary people read, with the payload's processes as
// they will run (amapi.Previewer: Flink's JVM command lines, entry
// classes and effective configuration). Secrets are redacted in both.
func (e *environment) dryRun(p *prepared, out string) error {
	d := launch.Describe(p.sub, p.stager, p.planned)
	if pv, ok := p.payload.(amapi.Previewer); ok {
		procs, err := pv.Preview(p.sub.Payload)
		if err != nil {
			return err
		}
		d.Processes = launch.RedactPreviews(procs)
	}
	if out == "json" {
		return writeJSON(e.stdout, d, false)
	}
	printDescription(e.stdout, d)
	return nil
}

// printDescription is the text of a dry run.
func printDescription(w io.Writer, d launch.Description) {
	fmt.Fprintln(w, "dry run: nothing uploaded or submitted (-o json prints all of it). The submission would be:")
	fmt.Fprintln(w)
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	id := d.AppID
	if id == "" {
		id = "(the RM assigns it)"
	}
	row("application", "%s %q, %s, type %s", id, d.Name, d.Mode, d.Type)
	attempts := "the cluster's maximum of AM attempts"
	if d.MaxAttempts > 0 {
		attempts = fmt.Sprintf("at most %d AM %s", d.MaxAttempts, plural(int(d.MaxAttempts), "attempt"))
	}
	row("", "queue %s, priority %d, %s", d.Queue, d.Priority, attempts)
	if len(d.Tags) > 0 {
		row("tags", "%s", strings.Join(d.Tags, ", "))
	}
	if d.NodeLabel != "" {
		row("node label", "%s", d.NodeLabel)
	}
	if d.Staging != "" {
		row("staging", "%s", d.Staging)
	}
	tokens := "none (simple authentication)"
	if len(d.Tokens) > 0 {
		tokens = strings.Join(d.Tokens, "; ")
	}
	row("tokens", "%s", tokens)
	max := ""
	if d.MaxResource != nil {
		max = fmt.Sprintf(" (cluster maximum %s)", size(*d.MaxResource))
	}
	fmt.Fprintln(tw, "\t")
	row("AM container", "%s%s: the AM, with the JobManager as its child", size(d.AMResource), max)
	row("  command", "%s", strings.Join(d.AM.Commands, " "))
	row("  environment", "%s", env(d.AM.Environment))
	row("  files", "%s", files(d.AM.LocalResources))
	row("  JobManager", "%s", strings.Join(d.JobManager.Command, " "))
	if len(d.JobManager.Environment) > 0 {
		row("  its environment", "%s", env(d.JobManager.Environment))
	}
	fmt.Fprintln(tw, "\t")
	tm := d.TaskManagers
	row("TaskManagers", "%d × %s", tm.Count, size(tm.Resource))
	row("  command", "%s", tm.Command)
	row("  environment", "%s", env(tm.Environment))
	row("  files", "%s", files(tm.LocalResources))
	_ = tw.Flush()
	for _, l := range strings.SplitAfter(table.String(), "\n") {
		fmt.Fprint(w, strings.TrimRight(l, " \n")+strings.Repeat("\n", strings.Count(l, "\n")))
	}
	for _, p := range d.Processes {
		fmt.Fprintln(w)
		what := "the JobManager"
		if p.Role == "taskmanager" {
			what = "each TaskManager"
		}
		fmt.Fprintf(w, "%s runs %s (<…> is what the container decides):\n", what, p.EntryClass)
		for i, a := range p.Command {
			switch {
			case i == 0:
				fmt.Fprintf(w, "  %s", a)
			case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "@") || a == p.EntryClass:
				fmt.Fprintf(w, " \\\n      %s", a)
			default:
				fmt.Fprintf(w, " %s", a)
			}
		}
		fmt.Fprintln(w)
		if p.ConfigFile != "" {
			fmt.Fprintf(w, "  configuration (%s):\n", p.ConfigFile)
			for _, c := range p.Config {
				fmt.Fprintf(w, "    %s: %s\n", c.Key, c.Value)
			}
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  (%s)\n", n)
		}
	}
}

func size(r launch.ResourceJSON) string {
	return fmt.Sprintf("%d MB, %d %s", r.MemoryMB, r.VCores, plural(int(r.VCores), "vcore"))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// env is an environment on one line, sorted; "none" if empty.
func env(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return strings.Join(kv, " ")
}

// files lists local resources, a directory's files summed up under its
// name ("lib/ (45 files, 120.3 MB)"), sorted.
func files(m map[string]launch.PlannedRes) string {
	type group struct {
		n     int
		bytes int64
		note  string
	}
	groups := map[string]*group{}
	for name, r := range m {
		key := name
		if top, _, ok := strings.Cut(name, "/"); ok {
			key = top + "/"
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		g.n++
		if r.Size > 0 {
			g.bytes += r.Size
		}
		if r.Size <= 0 && !strings.HasSuffix(key, "/") {
			g.note = r.Source
		}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		switch {
		case strings.HasSuffix(k, "/"):
			out = append(out, fmt.Sprintf("%s (%d %s, %s)", k, g.n, plural(g.n, "file"), human(g.bytes)))
		case g.note != "":
			out = append(out, fmt.Sprintf("%s (%s)", k, g.note))
		default:
			out = append(out, fmt.Sprintf("%s (%s)", k, human(g.bytes)))
		}
	}
	return strings.Join(out, ", ")
}

func human(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", b)
}
