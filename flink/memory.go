package flink

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// MemorySize is a number of bytes, as Flink's MemorySize.
type MemorySize int64

// Binary units of MemorySize.parse (MemoryUnit): b, k, m, g, t and their
// long forms, case-insensitive.
var memoryUnits = []struct {
	names []string
	mult  int64
}{
	{[]string{"b", "bytes"}, 1},
	{[]string{"k", "kb", "kibibytes"}, 1 << 10},
	{[]string{"m", "mb", "mebibytes"}, 1 << 20},
	{[]string{"g", "gb", "gibibytes"}, 1 << 30},
	{[]string{"t", "tb", "tebibytes"}, 1 << 40},
}

// ParseMemorySize parses a size as MemorySize.parseBytes does: digits,
// optional blanks, an optional unit; no unit means bytes.
func ParseMemorySize(s string) (MemorySize, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("memory size: empty value")
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("memory size %q: does not start with a number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: numeric overflow", s)
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(1)
	if unit != "" {
		found := false
		for _, u := range memoryUnits {
			for _, name := range u.names {
				if name == unit {
					mult, found = u.mult, true
				}
			}
		}
		if !found {
			return 0, fmt.Errorf("memory size %q: unknown unit %q: use b, k, m, g or t (kb, mb, gb, …)", s, unit)
		}
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("memory size %q: numeric overflow", s)
	}
	return MemorySize(n * mult), nil
}

// Bytes returns m as an int64.
func (m MemorySize) Bytes() int64 { return int64(m) }

// String returns m in Flink's human-readable form ("512.000mb (536870920 bytes)").
func (m MemorySize) String() string {
	units := []struct {
		name string
		mult int64
	}{{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}}
	for _, u := range units {
		if int64(m) > u.mult {
			return fmt.Sprintf("%.3f%s (%d bytes)", float64(m)/float64(u.mult), u.name, int64(m))
		}
	}
	return fmt.Sprintf("%d bytes", int64(m))
}

// arg is the "<bytes>b" form of the dynamic properties.
func (m MemorySize) arg() string { return strconv.FormatInt(int64(m), 10) + "b" }

// multiply is MemorySize.multiply: the exact product of the bytes and the
// decimal that Double.toString gives for f, truncated.
func (m MemorySize) multiply(f float64) MemorySize {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		panic("flink: bad multiplier " + strconv.FormatFloat(f, 'g', -1, 64))
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(m)))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return MemorySize(math.MaxInt64)
	}
	return MemorySize(q.Int64())
}

// option is a Flink ConfigOption: its key, the deprecated or fallback
// keys it also reads (in order), and its default ("" for none).
type option struct {
	key      string
	fallback []string
	def      string
}

// The memory options, from TaskManagerOptions and JobManagerOptions. The
// keys and defaults are the same in Flink 1.17 and 2.x.
var (
	tmProcess         = option{key: "taskmanager.memory.process.size"}
	tmFlink           = option{key: "taskmanager.memory.flink.size"}
	tmFrameworkHeap   = option{key: "taskmanager.memory.framework.heap.size", def: "128m"}
	tmFrameworkOff    = option{key: "taskmanager.memory.framework.off-heap.size", def: "128m"}
	tmTaskHeap        = option{key: "taskmanager.memory.task.heap.size"}
	tmTaskOff         = option{key: "taskmanager.memory.task.off-heap.size", def: "0"}
	tmManaged         = option{key: "taskmanager.memory.managed.size", fallback: []string{"taskmanager.memory.size"}}
	tmManagedFraction = option{key: "taskmanager.memory.managed.fraction", def: "0.4"}
	tmNetworkMin      = option{key: "taskmanager.memory.network.min", fallback: []string{"taskmanager.network.memory.min"}, def: "64m"}
	tmNetworkMax      = option{key: "taskmanager.memory.network.max", fallback: []string{"taskmanager.network.memory.max"}, def: strconv.FormatInt(math.MaxInt64, 10)}
	tmNetworkFraction = option{key: "taskmanager.memory.network.fraction", fallback: []string{"taskmanager.network.memory.fraction"}, def: "0.1"}
	tmMetaspace       = option{key: "taskmanager.memory.jvm-metaspace.size", def: "256m"}
	tmOverheadMin     = option{key: "taskmanager.memory.jvm-overhead.min", def: "192m"}
	tmOverheadMax     = option{key: "taskmanager.memory.jvm-overhead.max", def: "1g"}
	tmOverheadFrac    = option{key: "taskmanager.memory.jvm-overhead.fraction", def: "0.1"}
	tmSlots           = option{key: "taskmanager.numberOfTaskSlots", def: "1"}
	tmCPUCores        = option{key: "taskmanager.cpu.cores"}
	// Flink 1.x only (removed in 2.0).
	tmLegacyHeap      = option{key: "taskmanager.heap.size"}
	tmLegacyHeapMB    = option{key: "taskmanager.heap.mb"}
	tmLegacyBuffers   = option{key: "taskmanager.network.numberOfBuffers", def: "2048"}
	tmSegmentSize     = option{key: "taskmanager.memory.segment-size", def: "32kb"}
	externalResources = option{key: "external-resources", def: "none"}

	jmProcess      = option{key: "jobmanager.memory.process.size"}
	jmFlink        = option{key: "jobmanager.memory.flink.size"}
	jmHeap         = option{key: "jobmanager.memory.heap.size"}
	jmOffHeap      = option{key: "jobmanager.memory.off-heap.size", def: "128m"}
	jmDirectLimit  = option{key: "jobmanager.memory.enable-jvm-direct-memory-limit", def: "false"}
	jmMetaspace    = option{key: "jobmanager.memory.jvm-metaspace.size", def: "256m"}
	jmOverheadMin  = option{key: "jobmanager.memory.jvm-overhead.min", def: "192m"}
	jmOverheadMax  = option{key: "jobmanager.memory.jvm-overhead.max", def: "1g"}
	jmOverheadFrac = option{key: "jobmanager.memory.jvm-overhead.fraction", def: "0.1"}
	jmLegacyHeap   = option{key: "jobmanager.heap.size"}
	jmLegacyHeapMB = option{key: "jobmanager.heap.mb"}
)

// lookup returns o's value from c: its key, else the first fallback key
// set, else the default; ok is false when none applies.
func (o option) lookup(c *Config) (string, bool) {
	if v, ok := c.Get(o.key); ok {
		return v, true
	}
	for _, k := range o.fallback {
		if v, ok := c.Get(k); ok {
			return v, true
		}
	}
	return o.def, o.def != ""
}

// set reports Configuration.contains: the key or a fallback key is set.
func (o option) set(c *Config) bool {
	if c.Has(o.key) {
		return true
	}
	for _, k := range o.fallback {
		if c.Has(k) {
			return true
		}
	}
	return false
}

func (o option) memory(c *Config) (MemorySize, error) {
	v, ok := o.lookup(c)
	if !ok {
		return 0, fmt.Errorf("cannot read memory size from config option '%s': not set and without default", o.key)
	}
	m, err := ParseMemorySize(v)
	if err != nil {
		return 0, fmt.Errorf("cannot read memory size from config option '%s': %w", o.key, err)
	}
	return m, nil
}

// fraction reads a float option as Flink does: a Java float, widened to a
// double when the memory utilities use it (so 0.1 is 0.10000000149011612).
func (o option) fraction(c *Config) (float64, error) {
	v, _ := o.lookup(c)
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
	if err != nil {
		return 0, fmt.Errorf("config option '%s': %q is not a number", o.key, v)
	}
	return float64(float32(f)), nil
}

func (o option) integer(c *Config) (int64, error) {
	v, _ := o.lookup(c)
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("config option '%s': %q is not an integer", o.key, v)
	}
	return n, nil
}

func (o option) boolean(c *Config) (bool, error) {
	v, _ := o.lookup(c)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("config option '%s': %q is not true or false", o.key, v)
}

// rangeFraction is RangeFraction: a fraction with a minimum and maximum.
type rangeFraction struct {
	min, max MemorySize
	fraction float64
}

func getRangeFraction(c *Config, minO, maxO, fracO option) (rangeFraction, error) {
	var r rangeFraction
	var err error
	if r.min, err = minO.memory(c); err != nil {
		return r, err
	}
	if r.max, err = maxO.memory(c); err != nil {
		return r, err
	}
	if r.fraction, err = fracO.fraction(c); err != nil {
		return r, err
	}
	if r.min > r.max || r.fraction < 0 || r.fraction >= 1 {
		return r, fmt.Errorf("inconsistently configured %s (%v) and its min (%s), max (%s) value: want min <= max and a fraction in [0, 1)",
			fracO.key, r.fraction, r.min, r.max)
	}
	return r, nil
}

// capToMinMax is ProcessMemoryUtils.capToMinMax.
func (r rangeFraction) cap(m MemorySize) MemorySize { return min(max(m, r.min), r.max) }

// deriveWithFraction is ProcessMemoryUtils.deriveWithFraction.
func (r rangeFraction) derive(base MemorySize) MemorySize { return r.cap(base.multiply(r.fraction)) }

// deriveInverse is ProcessMemoryUtils.deriveWithInverseFraction.
func (r rangeFraction) deriveInverse(base MemorySize) MemorySize {
	return r.cap(base.multiply(r.fraction / (1 - r.fraction)))
}

// processOptions are ProcessMemoryOptions: one process's total-size and
// JVM options.
type processOptions struct {
	process, flink                            option
	metaspace, overheadMin, overheadMax, frac option
}

var (
	tmOptions = processOptions{tmProcess, tmFlink, tmMetaspace, tmOverheadMin, tmOverheadMax, tmOverheadFrac}
	jmOptions = processOptions{jmProcess, jmFlink, jmMetaspace, jmOverheadMin, jmOverheadMax, jmOverheadFrac}
)

// metaspaceAndOverheadFromFlink is
// ProcessMemoryUtils.deriveJvmMetaspaceAndOverheadFromTotalFlinkMemory.
func (o processOptions) metaspaceAndOverheadFromFlink(c *Config, flink MemorySize) (metaspace, overhead MemorySize, err error) {
	if metaspace, err = o.metaspace.memory(c); err != nil {
		return 0, 0, err
	}
	r, err := getRangeFraction(c, o.overheadMin, o.overheadMax, o.frac)
	if err != nil {
		return 0, 0, err
	}
	if o.process.set(c) {
		process, err := o.process.memory(c)
		if err != nil {
			return 0, 0, err
		}
		if process < flink+metaspace {
			return 0, 0, fmt.Errorf("the configured Total Process Memory size (%s) is less than the sum of the derived Total Flink Memory size (%s) and the configured or default JVM Metaspace size (%s)",
				process, flink, metaspace)
		}
		overhead = process - flink - metaspace
		if overhead > r.max || overhead < r.min {
			return 0, 0, fmt.Errorf("derived JVM Overhead size (%s) is not in configured JVM Overhead range [%s, %s]", overhead, r.min, r.max)
		}
		return metaspace, overhead, nil
	}
	return metaspace, r.deriveInverse(flink + metaspace), nil
}

// metaspaceAndOverheadFromProcess is
// ProcessMemoryUtils.deriveJvmMetaspaceAndOverheadWithTotalProcessMemory.
func (o processOptions) metaspaceAndOverheadFromProcess(c *Config, process MemorySize) (metaspace, overhead MemorySize, err error) {
	if metaspace, err = o.metaspace.memory(c); err != nil {
		return 0, 0, err
	}
	r, err := getRangeFraction(c, o.overheadMin, o.overheadMax, o.frac)
	if err != nil {
		return 0, 0, err
	}
	overhead = r.derive(process)
	if metaspace+overhead > process {
		return 0, 0, fmt.Errorf("sum of configured JVM Metaspace (%s) and JVM Overhead (%s) exceed configured Total Process Memory (%s)", metaspace, overhead, process)
	}
	return metaspace, overhead, nil
}

// TaskManagerMemory is a TaskManager's memory (TaskExecutorProcessSpec).
type TaskManagerMemory struct {
	FrameworkHeap, FrameworkOffHeap, TaskHeap, TaskOffHeap, Network, Managed MemorySize
	Metaspace, Overhead                                                      MemorySize
	// CPUCores is taskmanager.cpu.cores, or the slots; Slots the slots.
	CPUCores float64
	Slots    int64
	// ExternalResources are external-resources with a positive
	// external-resource.<name>.amount.
	ExternalResources map[string]int64
}

// TotalFlink is the Total Flink Memory.
func (m TaskManagerMemory) TotalFlink() MemorySize {
	return m.FrameworkHeap + m.FrameworkOffHeap + m.TaskHeap + m.TaskOffHeap + m.Network + m.Managed
}

// TotalProcess is the Total Process Memory.
func (m TaskManagerMemory) TotalProcess() MemorySize {
	return m.TotalFlink() + m.Metaspace + m.Overhead
}

// JVMHeap is -Xmx: the framework and task heap.
func (m TaskManagerMemory) JVMHeap() MemorySize { return m.FrameworkHeap + m.TaskHeap }

// JVMDirect is -XX:MaxDirectMemorySize: framework and task off-heap and network.
func (m TaskManagerMemory) JVMDirect() MemorySize {
	return m.FrameworkOffHeap + m.TaskOffHeap + m.Network
}

// JVMArgs are ProcessMemoryUtils.generateJvmParametersStr's flags.
func (m TaskManagerMemory) JVMArgs() []string {
	return []string{"-Xmx" + itoa(m.JVMHeap()), "-Xms" + itoa(m.JVMHeap()),
		"-XX:MaxDirectMemorySize=" + itoa(m.JVMDirect()), "-XX:MaxMetaspaceSize=" + itoa(m.Metaspace)}
}

// DynamicArgs are TaskExecutorProcessUtils.generateDynamicConfigsStr's
// "-D key=value" pairs, in the order Flink prints them (a java.util.HashMap's).
func (m TaskManagerMemory) DynamicArgs() []string {
	kv := [][2]string{
		{tmCPUCores.key, javaDouble(m.CPUCores)},
		{tmFrameworkHeap.key, m.FrameworkHeap.arg()},
		{tmFrameworkOff.key, m.FrameworkOffHeap.arg()},
		{tmTaskHeap.key, m.TaskHeap.arg()},
		{tmTaskOff.key, m.TaskOffHeap.arg()},
		{tmNetworkMin.key, m.Network.arg()},
		{tmNetworkMax.key, m.Network.arg()},
		{tmManaged.key, m.Managed.arg()},
		{tmMetaspace.key, m.Metaspace.arg()},
		{tmOverheadMin.key, m.Overhead.arg()},
		{tmOverheadMax.key, m.Overhead.arg()},
		{tmSlots.key, strconv.FormatInt(m.Slots, 10)},
	}
	if len(m.ExternalResources) == 0 {
		kv = append(kv, [2]string{externalResources.key, "none"})
	} else {
		names := javaHashMapOrder(keysOf(m.ExternalResources))
		kv = append(kv, [2]string{externalResources.key, `"` + strings.Join(names, ";") + `"`})
		for _, n := range names {
			kv = append(kv, [2]string{"external-resource." + n + ".amount", strconv.FormatInt(m.ExternalResources[n], 10)})
		}
	}
	return dynamicArgs(kv)
}

// JobManagerMemory is a JobManager's memory (JobManagerProcessSpec).
type JobManagerMemory struct {
	Heap, OffHeap, Metaspace, Overhead MemorySize
	// DirectLimit is jobmanager.memory.enable-jvm-direct-memory-limit.
	DirectLimit bool
}

// TotalFlink is the Total Flink Memory.
func (m JobManagerMemory) TotalFlink() MemorySize { return m.Heap + m.OffHeap }

// TotalProcess is the Total Process Memory.
func (m JobManagerMemory) TotalProcess() MemorySize { return m.TotalFlink() + m.Metaspace + m.Overhead }

// JVMArgs are JobManagerProcessUtils.generateJvmParametersStr's flags.
func (m JobManagerMemory) JVMArgs() []string {
	a := []string{"-Xmx" + itoa(m.Heap), "-Xms" + itoa(m.Heap)}
	if m.DirectLimit {
		a = append(a, "-XX:MaxDirectMemorySize="+itoa(m.OffHeap))
	}
	return append(a, "-XX:MaxMetaspaceSize="+itoa(m.Metaspace))
}

// DynamicArgs are JobManagerProcessUtils.generateDynamicConfigsStr's pairs.
func (m JobManagerMemory) DynamicArgs() []string {
	return dynamicArgs([][2]string{
		{jmHeap.key, m.Heap.arg()},
		{jmOffHeap.key, m.OffHeap.arg()},
		{jmMetaspace.key, m.Metaspace.arg()},
		{jmOverheadMin.key, m.Overhead.arg()},
		{jmOverheadMax.key, m.Overhead.arg()},
	})
}

func itoa(m MemorySize) string { return strconv.FormatInt(int64(m), 10) }

// dynamicArgs is ConfigurationUtils.assembleDynamicConfigsStr over a
// HashMap filled in the order of kv.
func dynamicArgs(kv [][2]string) []string {
	vals := map[string]string{}
	keys := make([]string, len(kv))
	for i, p := range kv {
		keys[i] = p[0]
		vals[p[0]] = p[1]
	}
	var out []string
	for _, k := range javaHashMapOrder(keys) {
		out = append(out, "-D", k+"="+vals[k])
	}
	return out
}

// keysOf returns m's keys, sorted.
func keysOf[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TaskManagerMemoryFromConfig computes a TaskManager's memory from c as
// TaskExecutorProcessUtils.processSpecFromConfig does for release v (1.x
// also maps the legacy heap and network-buffer options first, as its
// BashJavaUtils did).
func TaskManagerMemoryFromConfig(c *Config, v Version) (TaskManagerMemory, error) {
	m, err := taskManagerMemory(c, v)
	if err != nil {
		return m, fmt.Errorf("TaskManager memory configuration failed: %w", err)
	}
	return m, nil
}

func taskManagerMemory(c *Config, v Version) (TaskManagerMemory, error) {
	var m TaskManagerMemory
	if v.legacyMemoryOptions() {
		// MemoryBackwardsCompatibilityUtils: taskmanager.heap.size (or
		// .mb) stands for the Total Flink Memory.
		var err error
		if c, err = mapLegacyHeap(c, tmFlink, tmLegacyHeap, tmLegacyHeapMB); err != nil {
			return m, err
		}
	}
	var err error
	switch {
	case tmTaskHeap.set(c) && tmManaged.set(c):
		err = m.fromFineGrained(c, v)
	case tmFlink.set(c):
		var flink MemorySize
		if flink, err = tmFlink.memory(c); err == nil {
			if err = m.fromTotalFlink(c, v, flink); err == nil {
				m.Metaspace, m.Overhead, err = tmOptions.metaspaceAndOverheadFromFlink(c, flink)
			}
		}
	case tmProcess.set(c):
		var process MemorySize
		if process, err = tmProcess.memory(c); err == nil {
			if m.Metaspace, m.Overhead, err = tmOptions.metaspaceAndOverheadFromProcess(c, process); err == nil {
				err = m.fromTotalFlink(c, v, process-m.Metaspace-m.Overhead)
			}
		}
	default:
		err = fmt.Errorf("either required fine-grained memory (%s and %s), or Total Flink Memory size (%s), or Total Process Memory size (%s) need to be configured explicitly",
			tmTaskHeap.key, tmManaged.key, tmFlink.key, tmProcess.key)
	}
	if err != nil {
		return m, err
	}
	if m.Slots, err = tmSlots.integer(c); err != nil {
		return m, err
	}
	if tmCPUCores.set(c) {
		s, _ := tmCPUCores.lookup(c)
		if m.CPUCores, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return m, fmt.Errorf("config option '%s': %q is not a number", tmCPUCores.key, s)
		}
	} else {
		m.CPUCores = float64(m.Slots)
	}
	if m.CPUCores <= 0 {
		return m, fmt.Errorf("TaskExecutors need to be started with a positive number of CPU cores. Please configure %s accordingly", tmCPUCores.key)
	}
	m.ExternalResources, err = externalResourceAmounts(c)
	return m, err
}

// mapLegacyHeap returns c with target set from a 1.x legacy heap option
// (heap, else heapMB) when target is unset and a legacy option is; c
// itself is never changed.
func mapLegacyHeap(c *Config, target, heap, heapMB option) (*Config, error) {
	if target.set(c) {
		return c, nil
	}
	legacy, ok, err := legacyHeap(c, heap, heapMB)
	if err != nil || !ok {
		return c, err
	}
	c = c.Clone()
	c.Set(target.key, legacy.arg())
	return c, nil
}

func legacyHeap(c *Config, heap, heapMB option) (MemorySize, bool, error) {
	if heap.set(c) {
		m, err := heap.memory(c)
		return m, err == nil, err
	}
	if heapMB.set(c) {
		n, err := heapMB.integer(c)
		if err != nil {
			return 0, false, err
		}
		if n < 0 {
			return 0, false, fmt.Errorf("configured total process memory size (%dMB) must not be less than 0", n)
		}
		return MemorySize(n << 20), true, nil
	}
	return 0, false, nil
}

func (m *TaskManagerMemory) common(c *Config) (err error) {
	if m.FrameworkHeap, err = tmFrameworkHeap.memory(c); err != nil {
		return err
	}
	if m.FrameworkOffHeap, err = tmFrameworkOff.memory(c); err != nil {
		return err
	}
	m.TaskOffHeap, err = tmTaskOff.memory(c)
	return err
}

// legacyNetwork is the 1.x network memory from
// taskmanager.network.numberOfBuffers, used only when it is set and no
// taskmanager.memory.network.* option is.
func legacyNetwork(c *Config, v Version) (MemorySize, bool, error) {
	if !v.legacyMemoryOptions() || tmNetworkMin.set(c) || tmNetworkMax.set(c) || tmNetworkFraction.set(c) || !tmLegacyBuffers.set(c) {
		return 0, false, nil
	}
	n, err := tmLegacyBuffers.integer(c)
	if err != nil {
		return 0, false, err
	}
	page, err := tmSegmentSize.memory(c)
	if err != nil {
		return 0, false, err
	}
	return MemorySize(n) * page, true, nil
}

// fromFineGrained is TaskExecutorFlinkMemoryUtils.deriveFromRequiredFineGrainedOptions
// followed by the metaspace and overhead.
func (m *TaskManagerMemory) fromFineGrained(c *Config, v Version) error {
	if err := m.common(c); err != nil {
		return err
	}
	var err error
	if m.TaskHeap, err = tmTaskHeap.memory(c); err != nil {
		return err
	}
	if m.Managed, err = tmManaged.memory(c); err != nil {
		return err
	}
	excl := m.FrameworkHeap + m.FrameworkOffHeap + m.TaskHeap + m.TaskOffHeap + m.Managed
	if tmFlink.set(c) {
		flink, err := tmFlink.memory(c)
		if err != nil {
			return err
		}
		if excl > flink {
			return m.exceedError(flink, false)
		}
		m.Network = flink - excl
		if err := checkNetwork(c, v, m.Network, flink); err != nil {
			return err
		}
	} else if legacy, ok, err := legacyNetwork(c, v); err != nil {
		return err
	} else if ok {
		m.Network = legacy
	} else {
		r, err := getRangeFraction(c, tmNetworkMin, tmNetworkMax, tmNetworkFraction)
		if err != nil {
			return err
		}
		m.Network = r.deriveInverse(excl)
	}
	if err := m.checkTotalFlink(c); err != nil {
		return err
	}
	m.Metaspace, m.Overhead, err = tmOptions.metaspaceAndOverheadFromFlink(c, m.TotalFlink())
	return err
}

// fromTotalFlink is TaskExecutorFlinkMemoryUtils.deriveFromTotalFlinkMemory.
func (m *TaskManagerMemory) fromTotalFlink(c *Config, v Version, flink MemorySize) error {
	if err := m.common(c); err != nil {
		return err
	}
	var err error
	if tmManaged.set(c) {
		if m.Managed, err = tmManaged.memory(c); err != nil {
			return err
		}
	} else {
		frac, err := tmManagedFraction.fraction(c)
		if err != nil {
			return err
		}
		if frac < 0 || frac >= 1 {
			return fmt.Errorf("inconsistently configured %s (%v): want a fraction in [0, 1)", tmManagedFraction.key, frac)
		}
		m.Managed = rangeFraction{min: 0, max: math.MaxInt64, fraction: frac}.derive(flink)
	}
	if tmTaskHeap.set(c) {
		if m.TaskHeap, err = tmTaskHeap.memory(c); err != nil {
			return err
		}
		excl := m.FrameworkHeap + m.FrameworkOffHeap + m.TaskHeap + m.TaskOffHeap + m.Managed
		if excl > flink {
			return m.exceedError(flink, false)
		}
		m.Network = flink - excl
		if err := checkNetwork(c, v, m.Network, flink); err != nil {
			return err
		}
	} else {
		if legacy, ok, err := legacyNetwork(c, v); err != nil {
			return err
		} else if ok {
			m.Network = legacy
		} else {
			r, err := getRangeFraction(c, tmNetworkMin, tmNetworkMax, tmNetworkFraction)
			if err != nil {
				return err
			}
			m.Network = r.derive(flink)
		}
		excl := m.FrameworkHeap + m.FrameworkOffHeap + m.TaskOffHeap + m.Managed + m.Network
		if excl > flink {
			return m.exceedError(flink, true)
		}
		m.TaskHeap = flink - excl
	}
	return m.checkTotalFlink(c)
}

func (m *TaskManagerMemory) exceedError(flink MemorySize, withNetwork bool) error {
	if withNetwork {
		return fmt.Errorf("sum of configured Framework Heap Memory (%s), Framework Off-Heap Memory (%s), Task Off-Heap Memory (%s), Managed Memory (%s) and Network Memory (%s) exceed configured Total Flink Memory (%s)",
			m.FrameworkHeap, m.FrameworkOffHeap, m.TaskOffHeap, m.Managed, m.Network, flink)
	}
	return fmt.Errorf("sum of configured Framework Heap Memory (%s), Framework Off-Heap Memory (%s), Task Heap Memory (%s), Task Off-Heap Memory (%s) and Managed Memory (%s) exceed configured Total Flink Memory (%s)",
		m.FrameworkHeap, m.FrameworkOffHeap, m.TaskHeap, m.TaskOffHeap, m.Managed, flink)
}

// checkNetwork is sanityCheckNetworkMemoryWithExplicitlySetTotalFlinkAndHeapMemory.
func checkNetwork(c *Config, v Version, network, flink MemorySize) error {
	const ctx = "if Total Flink, Task Heap and (or) Managed Memory sizes are explicitly configured then the Network Memory size is the rest of the Total Flink memory after subtracting all other configured types of memory, but the derived Network Memory is inconsistent with its configuration: "
	if legacy, ok, err := legacyNetwork(c, v); err != nil {
		return err
	} else if ok {
		if legacy != network {
			return fmt.Errorf(ctx+"derived Network Memory size (%s) does not match configured Network Memory size (%s)", network, legacy)
		}
		return nil
	}
	r, err := getRangeFraction(c, tmNetworkMin, tmNetworkMax, tmNetworkFraction)
	if err != nil {
		return err
	}
	if network > r.max || network < r.min {
		return fmt.Errorf(ctx+"derived Network Memory size (%s) is not in configured Network Memory range [%s, %s]", network, r.min, r.max)
	}
	return nil
}

// checkTotalFlink is sanityCheckTotalFlinkMemory.
func (m *TaskManagerMemory) checkTotalFlink(c *Config) error {
	if !tmFlink.set(c) {
		return nil
	}
	flink, err := tmFlink.memory(c)
	if err != nil {
		return err
	}
	if flink != m.TotalFlink() {
		return fmt.Errorf("configured and Derived Flink internal memory sizes (total %s) do not add up to the configured Total Flink Memory size (%s)", m.TotalFlink(), flink)
	}
	return nil
}

// externalResourceAmounts is ExternalResourceUtils.getExternalResourceAmountMap:
// the names of external-resources (';'-separated, "none" for none) with a
// positive external-resource.<name>.amount.
func externalResourceAmounts(c *Config) (map[string]int64, error) {
	v, _ := externalResources.lookup(c)
	v = strings.Trim(strings.TrimSpace(v), "[]\"")
	out := map[string]int64{}
	for _, n := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
		n = strings.Trim(strings.TrimSpace(n), `"'`)
		if n == "" || n == "none" {
			continue
		}
		s, ok := c.Get("external-resource." + n + ".amount")
		if !ok {
			continue // Flink warns and ignores the resource
		}
		a, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("config option 'external-resource.%s.amount': %q is not an integer", n, s)
		}
		if a > 0 {
			out[n] = a
		}
	}
	return out, nil
}

// JobManagerMemoryFromConfig computes the JobManager's memory from c as
// JobManagerProcessUtils.processSpecFromConfig does for release v (1.x
// maps jobmanager.heap.size to jobmanager.memory.heap.size first). A heap
// below 128 MB is allowed, as in Flink, which only warns.
func JobManagerMemoryFromConfig(c *Config, v Version) (JobManagerMemory, error) {
	m, err := jobManagerMemory(c, v)
	if err != nil {
		return m, fmt.Errorf("JobManager memory configuration failed: %w", err)
	}
	return m, nil
}

func jobManagerMemory(c *Config, v Version) (JobManagerMemory, error) {
	var m JobManagerMemory
	var err error
	if v.legacyMemoryOptions() {
		if c, err = mapLegacyHeap(c, jmHeap, jmLegacyHeap, jmLegacyHeapMB); err != nil {
			return m, err
		}
	}
	if m.DirectLimit, err = jmDirectLimit.boolean(c); err != nil {
		return m, err
	}
	switch {
	case jmHeap.set(c):
		if m.Heap, err = jmHeap.memory(c); err != nil {
			return m, err
		}
		if m.OffHeap, err = jmOffHeap.memory(c); err != nil {
			return m, err
		}
		if jmFlink.set(c) {
			flink, err := jmFlink.memory(c)
			if err != nil {
				return m, err
			}
			if jmOffHeap.set(c) {
				if m.Heap+m.OffHeap != flink {
					return m, fmt.Errorf("sum of the configured JVM Heap Memory (%s) and the configured Off-heap Memory (%s) does not match the configured Total Flink Memory (%s)", m.Heap, m.OffHeap, flink)
				}
			} else {
				if flink < m.Heap {
					return m, fmt.Errorf("the configured JVM Heap Memory (%s) exceeds the configured Total Flink Memory (%s)", m.Heap, flink)
				}
				m.OffHeap = flink - m.Heap
			}
		}
		m.Metaspace, m.Overhead, err = jmOptions.metaspaceAndOverheadFromFlink(c, m.TotalFlink())
	case jmFlink.set(c):
		var flink MemorySize
		if flink, err = jmFlink.memory(c); err == nil {
			if err = m.fromTotalFlink(c, flink); err == nil {
				m.Metaspace, m.Overhead, err = jmOptions.metaspaceAndOverheadFromFlink(c, flink)
			}
		}
	case jmProcess.set(c):
		var process MemorySize
		if process, err = jmProcess.memory(c); err == nil {
			if m.Metaspace, m.Overhead, err = jmOptions.metaspaceAndOverheadFromProcess(c, process); err == nil {
				err = m.fromTotalFlink(c, process-m.Metaspace-m.Overhead)
			}
		}
	default:
		err = fmt.Errorf("either required fine-grained memory (%s), or Total Flink Memory size (%s), or Total Process Memory size (%s) need to be configured explicitly",
			jmHeap.key, jmFlink.key, jmProcess.key)
	}
	return m, err
}

// fromTotalFlink is JobManagerFlinkMemoryUtils.deriveFromTotalFlinkMemory.
func (m *JobManagerMemory) fromTotalFlink(c *Config, flink MemorySize) error {
	off, err := jmOffHeap.memory(c)
	if err != nil {
		return err
	}
	if flink <= off {
		return fmt.Errorf("the configured Total Flink Memory (%s) is less than the configured Off-heap Memory (%s)", flink, off)
	}
	m.Heap, m.OffHeap = flink-off, off
	return nil
}

// javaDouble formats f as Java's Double.toString (String.valueOf(double)).
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+07, 1.5e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// javaHashMapOrder returns keys in the iteration order of a
// java.util.HashMap they were put into in this order: by bucket
// (String.hashCode spread as HashMap.hash does, modulo the table size,
// which starts at 16 and doubles when the size passes 3/4 of it), and by
// insertion within a bucket. Flink builds its dynamic properties in
// HashMaps, so this reproduces the order of its command lines.
func javaHashMapOrder(keys []string) []string {
	size := 16
	for n := 1; n <= len(keys); n++ {
		if n > size*3/4 {
			size *= 2
		}
	}
	type item struct {
		key    string
		bucket int
		i      int
	}
	items := make([]item, len(keys))
	for i, k := range keys {
		var h int32
		for _, u := range utf16Units(k) {
			h = 31*h + int32(u)
		}
		spread := uint32(h) ^ (uint32(h) >> 16)
		items[i] = item{k, int(spread & uint32(size-1)), i}
	}
	out := make([]string, 0, len(keys))
	for b := 0; b < size; b++ {
		for _, it := range items {
			if it.bucket == b {
				out = append(out, it.key)
			}
		}
	}
	return out
}

func utf16Units(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		u = append(u, uint16(r))
	}
	return u
}
