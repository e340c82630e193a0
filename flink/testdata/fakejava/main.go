// Command fakejava stands in for bin/java in Spindle's Flink tests (the
// tests build it and put it in a fake JAVA_HOME). It records its
// arguments, environment and working directory, then plays the Flink
// process its main class names:
//
//   - StandaloneSessionClusterEntrypoint and
//     StandaloneApplicationClusterEntryPoint: a JobManager listening on
//     jobmanager.bind-host:jobmanager.rpc.port for TaskManagers and on
//     rest.bind-address:rest.bind-port for a REST API shaped like Flink's
//     (GET /overview, GET /taskmanagers, and POST /taskmanagers/<id>/exit?code=N,
//     which makes that TaskManager exit with N). The application entry
//     point waits for $SPINDLE_TASKMANAGERS TaskManagers, "runs the job"
//     (the jars of usrlib/ must be there) and exits 0, or 1443 (Flink's
//     ApplicationStatus.FAILED) when the job arguments include --fail.
//   - TaskManagerRunner: a TaskManager that connects to
//     jobmanager.rpc.address:jobmanager.rpc.port, registers with
//     taskmanager.resource-id, heartbeats, and reconnects when the
//     JobManager goes away.
//
// It reads the configuration from --configDir (flink-conf.yaml, flat, if
// present, else config.yaml, standard YAML) plus the -D arguments, as
// Flink's GlobalConfiguration does, and checks that every classpath entry
// exists. "-XshowSettings:properties" prints java.specification.version
// ($FAKE_JAVA_SPEC_VERSION, default 17). SIGTERM ends it with 143, as it
// ends a JVM.
//
// The record is JSON: $FAKE_JAVA_RECORD_DIR/<role>-<pid>.json, or
// fakejava-<role>-<pid>.json in the working directory.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	sessionClass = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
	appClass     = "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint"
	tmClass      = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
)

// Record is what the stand-in writes before it starts.
type Record struct {
	Role      string            `json:"role"`
	Args      []string          `json:"args"`
	Env       []string          `json:"env"`
	Dir       string            `json:"dir"`
	PID       int               `json:"pid"`
	MainClass string            `json:"main_class"`
	Config    map[string]string `json:"config"`
}

func main() {
	args := expandArgFiles(os.Args[1:])
	os.Args = append(os.Args[:1:1], args...) // recorded as the JVM sees its arguments
	if slices.Contains(args, "-XshowSettings:properties") {
		v := os.Getenv("FAKE_JAVA_SPEC_VERSION")
		if v == "" {
			v = "17"
		}
		fmt.Fprintf(os.Stderr, "Property settings:\n    java.specification.name = Java Platform API Specification\n    java.specification.version = %s\n\nopenjdk version \"%s\" (fakejava)\n", v, v)
		return
	}
	var cp, class string
	var rest []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-classpath" || args[i] == "-cp" {
			if i+1 < len(args) {
				cp = args[i+1]
			}
			i++
			continue
		}
		if !strings.HasPrefix(args[i], "-") {
			class, rest = args[i], args[i+1:]
			break
		}
	}
	role := map[string]string{sessionClass: "jobmanager", appClass: "jobmanager", tmClass: "taskmanager"}[class]
	if role == "" {
		fail(2, "fakejava: unknown main class %q", class)
	}
	confDir, dyn, jobArgs := parseArgs(rest)
	conf, err := loadConfig(confDir)
	if err != nil {
		fail(2, "fakejava: %v", err)
	}
	for k, v := range dyn {
		conf[k] = v
	}
	dir, _ := os.Getwd()
	env := os.Environ()
	sort.Strings(env)
	rec := Record{Role: role, Args: os.Args, Env: env, Dir: dir, PID: os.Getpid(), MainClass: class, Config: conf}
	b, _ := json.MarshalIndent(rec, "", "  ")
	out := fmt.Sprintf("fakejava-%s-%d.json", role, os.Getpid())
	if d := os.Getenv("FAKE_JAVA_RECORD_DIR"); d != "" {
		out = filepath.Join(d, fmt.Sprintf("%s-%d.json", role, os.Getpid()))
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		fail(2, "fakejava: %v", err)
	}
	for _, e := range strings.Split(cp, ":") {
		if e == "" {
			continue
		}
		if _, err := os.Stat(e); err != nil {
			fail(3, "fakejava: classpath entry %s: %v", e, err)
		}
	}
	fmt.Printf("fakejava %s (%s) pid %d\n", role, class, os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		fmt.Println("fakejava: SIGTERM")
		os.Exit(143)
	}()
	switch class {
	case tmClass:
		runTaskManager(conf)
	default:
		runJobManager(conf, class == appClass, jobArgs)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

// parseArgs reads --configDir, -D key=value (or -Dkey=value) and, for the
// application entry point, --job-classname and the job's arguments (all
// after "--" or the first unknown token).
func parseArgs(a []string) (confDir string, dyn map[string]string, job []string) {
	dyn = map[string]string{}
	for i := 0; i < len(a); i++ {
		switch {
		case a[i] == "--configDir" || a[i] == "-c":
			i++
			if i < len(a) {
				confDir = a[i]
			}
		case a[i] == "-D":
			i++
			if i < len(a) {
				k, v, _ := strings.Cut(a[i], "=")
				dyn[k] = v
			}
		case strings.HasPrefix(a[i], "-D"):
			k, v, _ := strings.Cut(a[i][2:], "=")
			dyn[k] = v
		case a[i] == "--job-classname" || a[i] == "-j" || a[i] == "--executionMode":
			i++
		case a[i] == "--":
			return confDir, dyn, a[i+1:]
		default:
			return confDir, dyn, a[i:]
		}
	}
	return confDir, dyn, nil
}

func loadConfig(dir string) (map[string]string, error) {
	if dir == "" {
		return nil, errors.New("no --configDir")
	}
	conf := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(dir, "flink-conf.yaml")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if ok && strings.TrimSpace(k) != "" && strings.TrimSpace(v) != "" {
				conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		return conf, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	flatten(m, "", conf)
	return conf, nil
}

func flatten(m map[string]any, prefix string, out map[string]string) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			flatten(v, prefix+k+".", out)
		case []any:
			b, _ := yaml.Marshal(v)
			out[prefix+k] = strings.TrimSpace(string(b))
		default:
			out[prefix+k] = fmt.Sprint(v)
		}
	}
}

func get(conf map[string]string, def string, keys ...string) string {
	for _, k := range keys {
		if v, ok := conf[k]; ok && v != "" {
			return v
		}
	}
	return def
}

type taskManager struct {
	ID    string `json:"id"`
	Host  string `json:"host"`
	Slots int    `json:"slotsNumber"`
	conn  net.Conn
}

func runJobManager(conf map[string]string, perJob bool, jobArgs []string) {
	rpcAddr := net.JoinHostPort(get(conf, "0.0.0.0", "jobmanager.bind-host"), get(conf, "6123", "jobmanager.rpc.port"))
	restAddr := net.JoinHostPort(get(conf, "0.0.0.0", "rest.bind-address"), get(conf, "8081", "rest.bind-port", "rest.port"))
	rpc, err := net.Listen("tcp", rpcAddr)
	if err != nil {
		fail(1, "fakejava: JobManager RPC %s: %v", rpcAddr, err)
	}
	rl, err := net.Listen("tcp", restAddr)
	if err != nil {
		fail(1, "fakejava: JobManager REST %s: %v", restAddr, err)
	}
	fmt.Printf("JobManager RPC on %s, REST on %s\n", rpc.Addr(), rl.Addr())
	var mu sync.Mutex
	tms := map[string]*taskManager{}
	go func() {
		for {
			c, err := rpc.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewScanner(c)
				if !r.Scan() {
					c.Close()
					return
				}
				f := strings.Fields(r.Text())
				if len(f) != 4 || f[0] != "REGISTER" {
					fmt.Fprintf(c, "REFUSED\n")
					c.Close()
					return
				}
				slots, _ := strconv.Atoi(f[2])
				tm := &taskManager{ID: f[1], Slots: slots, Host: f[3], conn: c}
				mu.Lock()
				tms[tm.ID] = tm
				mu.Unlock()
				fmt.Printf("TaskManager %s registered from %s\n", tm.ID, c.RemoteAddr())
				fmt.Fprintf(c, "ACCEPTED\n")
				for r.Scan() { // heartbeats
				}
				mu.Lock()
				if tms[tm.ID] == tm {
					delete(tms, tm.ID)
				}
				mu.Unlock()
				fmt.Printf("TaskManager %s disconnected\n", tm.ID)
				c.Close()
			}()
		}
	}()
	list := func() []*taskManager {
		mu.Lock()
		defer mu.Unlock()
		out := make([]*taskManager, 0, len(tms))
		for _, tm := range tms {
			out = append(out, tm)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /overview", func(w http.ResponseWriter, _ *http.Request) {
		l := list()
		slots := 0
		for _, tm := range l {
			slots += tm.Slots
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"taskmanagers": len(l), "slots-total": slots, "flink-version": "fake"})
	})
	mux.HandleFunc("GET /taskmanagers", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"taskmanagers": list()})
	})
	mux.HandleFunc("POST /taskmanagers/{id}/exit", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tm := tms[r.PathValue("id")]
		mu.Unlock()
		if tm == nil {
			http.Error(w, "no such TaskManager", http.StatusNotFound)
			return
		}
		fmt.Fprintf(tm.conn, "EXIT %s\n", r.URL.Query().Get("code"))
		w.WriteHeader(http.StatusAccepted)
	})
	go func() { _ = http.Serve(rl, mux) }()
	if !perJob {
		select {}
	}
	want, _ := strconv.Atoi(os.Getenv("SPINDLE_TASKMANAGERS"))
	want = max(want, 1)
	deadline := time.Now().Add(2 * time.Minute)
	for len(list()) < want {
		if time.Now().After(deadline) {
			fail(1, "fakejava: job: %d TaskManagers did not register", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	jars, _ := filepath.Glob(filepath.Join(filepath.Dir(os.Getenv("FLINK_LIB_DIR")), "usrlib", "*.jar"))
	if len(jars) == 0 {
		fail(1, "fakejava: job: no jar in usrlib/ next to $FLINK_LIB_DIR=%s", os.Getenv("FLINK_LIB_DIR"))
	}
	if slices.Contains(jobArgs, "--fail") {
		fail(1443, "fakejava: job failed (--fail) with %d TaskManagers", len(list()))
	}
	fmt.Printf("job finished with arguments %q on %d TaskManagers, user jars %v\n", jobArgs, len(list()), jars)
	os.Exit(0)
}

func runTaskManager(conf map[string]string) {
	id := conf["taskmanager.resource-id"]
	if id == "" {
		fail(4, "fakejava: TaskManager without taskmanager.resource-id")
	}
	jm := net.JoinHostPort(get(conf, "", "jobmanager.rpc.address"), get(conf, "6123", "jobmanager.rpc.port"))
	for {
		c, err := net.Dial("tcp", jm)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		fmt.Fprintf(c, "REGISTER %s %s %s\n", id, get(conf, "1", "taskmanager.numberOfTaskSlots"), get(conf, "?", "taskmanager.host"))
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					fmt.Fprintf(c, "HB\n")
				}
			}
		}()
		r := bufio.NewScanner(c)
		for r.Scan() {
			line := r.Text()
			fmt.Printf("from JobManager %s: %s\n", jm, line)
			if code, ok := strings.CutPrefix(line, "EXIT "); ok {
				n, _ := strconv.Atoi(code)
				os.Exit(n)
			}
		}
		close(done)
		c.Close()
		fmt.Printf("lost JobManager %s; reconnecting\n", jm)
		time.Sleep(100 * time.Millisecond)
	}
}

// expandArgFiles replaces each @file argument before the main class with
// the arguments the file holds, as the JDK 9+ launcher does: arguments
// separated by white space, '#' comment lines, double- or single-quoted
// arguments with \n, \t, \r, \\, \" and \' escapes inside quotes.
func expandArgFiles(args []string) []string {
	var out []string
	for i, a := range args {
		if !strings.HasPrefix(a, "@") || strings.HasPrefix(a, "@@") {
			out = append(out, a)
			if !strings.HasPrefix(a, "-") && i > 0 && args[i-1] != "-classpath" && args[i-1] != "-cp" {
				return append(out, args[i+1:]...) // the main class: the rest is the program's
			}
			continue
		}
		b, err := os.ReadFile(a[1:])
		if err != nil {
			fail(1, "Error: could not open `%s'", a[1:])
		}
		out = append(out, parseArgFile(string(b))...)
	}
	return out
}

func parseArgFile(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote, comment := false, byte(0), false
	flush := func() {
		if in {
			out = append(out, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
		case quote != 0:
			switch {
			case c == quote:
				quote = 0
			case c == '\\' && i+1 < len(s):
				i++
				switch s[i] {
				case 'n':
					cur.WriteByte('\n')
				case 't':
					cur.WriteByte('\t')
				case 'r':
					cur.WriteByte('\r')
				default:
					cur.WriteByte(s[i])
				}
			default:
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == '#' && !in:
			comment = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return out
}
