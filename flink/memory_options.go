package flink

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

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
