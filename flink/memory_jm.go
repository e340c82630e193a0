package flink

import (
	"fmt"
)

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
