package flink

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

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
