package flink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func v(s string) Version {
	x, err := parseVersion(s)
	if err != nil {
		panic(err)
	}
	return x
}

func conf(kv ...string) *Config {
	c := NewConfig(false)
	for i := 0; i+1 < len(kv); i += 2 {
		c.Set(kv[i], kv[i+1])
	}
	return c
}

// The command lines of a real Flink 1.17.2 standalone cluster with the
// default conf/flink-conf.yaml (jobmanager.memory.process.size: 1600m,
// taskmanager.memory.process.size: 1728m, 40 slots), as `ps` showed
// them (a public capture: github.com, "Flink 1.17.2 standalone in IDEA",
// ps -ef of standalonesession and taskexecutor). The byte counts follow
// from Flink's rules: flink-runtime .../util/config/memory/ProcessMemoryUtils.java
// (overhead = fraction of process capped to [min, max]; float fractions
// widened to double, so 0.1 is 0.10000000149011612 and 1280m × 0.4 is
// 536870920 bytes), .../taskmanager/TaskExecutorFlinkMemoryUtils.java,
// .../jobmanager/JobManagerFlinkMemoryUtils.java, and the defaults of
// flink-core .../configuration/TaskManagerOptions.java and
// JobManagerOptions.java (framework heap and off-heap 128m, managed
// fraction 0.4, network fraction 0.1 in [64m, max], metaspace 256m,
// overhead 0.1 in [192m, 1g], JobManager off-heap 128m). The -D order is
// a java.util.HashMap's (TaskExecutorProcessUtils.generateDynamicConfigsStr,
// JobManagerProcessUtils.generateDynamicConfigsStr).
const (
	captured117TM        = "-Xmx536870902 -Xms536870902 -XX:MaxDirectMemorySize=268435458 -XX:MaxMetaspaceSize=268435456"
	captured117TMDynamic = "-D taskmanager.memory.network.min=134217730b -D taskmanager.cpu.cores=40.0 -D taskmanager.memory.task.off-heap.size=0b -D taskmanager.memory.jvm-metaspace.size=268435456b -D external-resources=none -D taskmanager.memory.jvm-overhead.min=201326592b -D taskmanager.memory.framework.off-heap.size=134217728b -D taskmanager.memory.network.max=134217730b -D taskmanager.memory.framework.heap.size=134217728b -D taskmanager.memory.managed.size=536870920b -D taskmanager.memory.task.heap.size=402653174b -D taskmanager.numberOfTaskSlots=40 -D taskmanager.memory.jvm-overhead.max=201326592b"
	captured117JM        = "-Xmx1073741824 -Xms1073741824 -XX:MaxMetaspaceSize=268435456"
	captured117JMDynamic = "-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1073741824b -D jobmanager.memory.jvm-overhead.max=201326592b"
)

func TestMemoryMatchesACapturedFlinkCluster(t *testing.T) {
	for _, ver := range []string{"1.17.2", "2.0.0"} { // the model is the same in both
		t.Run(ver, func(t *testing.T) {
			tm, err := TaskManagerMemoryFromConfig(conf("taskmanager.memory.process.size", "1728m", "taskmanager.numberOfTaskSlots", "40"), v(ver))
			require.NoError(t, err)
			require.Equal(t, captured117TM, strings.Join(tm.JVMArgs(), " "))
			require.Equal(t, captured117TMDynamic, strings.Join(tm.DynamicArgs(), " "))
			require.Equal(t, MemorySize(1728<<20), tm.TotalProcess())
			jm, err := JobManagerMemoryFromConfig(conf("jobmanager.memory.process.size", "1600m"), v(ver))
			require.NoError(t, err)
			require.Equal(t, captured117JM, strings.Join(jm.JVMArgs(), " "))
			require.Equal(t, captured117JMDynamic, strings.Join(jm.DynamicArgs(), " "))
			require.Equal(t, MemorySize(1600<<20), jm.TotalProcess())
		})
	}
}

func TestTaskManagerMemoryRules(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		kv   []string
		ver  string
		want TaskManagerMemory // zero: expect err
		err  string
	}{
		// The byte counts below were computed independently with
		// java.math.BigDecimal, as MemorySize.multiply computes them
		// (BigDecimal.valueOf(bytes) × BigDecimal.valueOf((double) 0.1f)).
		//
		// 4096m: overhead 10% (in [192m, 1g]); Flink memory is the rest
		// after it and the 256m metaspace; managed 40% and network 10% of
		// that; the task heap gets what remains.
		{name: "process 4g", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "4096m"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 429496736, Metaspace: 256 * mib,
				Managed: 1438814063, Network: 359703515, TaskHeap: 1530082070, CPUCores: 1, Slots: 1}},
		// The overhead is capped at taskmanager.memory.jvm-overhead.max (1g).
		{name: "overhead capped", ver: "1.17.2", kv: []string{"taskmanager.memory.process.size", "16g", "taskmanager.memory.managed.size", "0"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 1024 * mib, Metaspace: 256 * mib,
				Network: 1583769214, TaskHeap: 13985487234, CPUCores: 1, Slots: 1}},
		// An explicit Total Flink Memory with the container's process size:
		// the overhead is the rest and must fit its range.
		{name: "flink size and process size", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "2048m", "taskmanager.memory.flink.size", "1500m"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: (2048 - 1500 - 256) * mib, Metaspace: 256 * mib,
				Managed: 629145609, Network: 157286402, TaskHeap: 517996533, CPUCores: 1, Slots: 1}},
		{name: "flink size leaves overhead out of range", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "2048m", "taskmanager.memory.flink.size", "1700m"},
			err: "derived JVM Overhead size (92.000mb (96468992 bytes)) is not in configured JVM Overhead range [192.000mb (201326592 bytes), 1024.000mb (1073741824 bytes)]"},
		// Flink 1.x reads the legacy taskmanager.heap.size as the Total
		// Flink Memory (MemoryBackwardsCompatibilityUtils, Flink 1.17's
		// BashJavaUtils); 2.x no longer knows the key.
		{name: "legacy heap 1.17", ver: "1.17.2", kv: []string{"taskmanager.memory.process.size", "2048m", "taskmanager.heap.size", "1600m"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 192 * mib, Metaspace: 256 * mib,
				Managed: 671088650, Network: 167772162, TaskHeap: 570425332, CPUCores: 1, Slots: 1}},
		{name: "legacy heap ignored by 2.x", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.heap.size", "1600m"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 192 * mib, Metaspace: 256 * mib,
				Managed: 536870920, Network: 134217730, TaskHeap: 402653174, CPUCores: 1, Slots: 1}},
		// taskmanager.network.numberOfBuffers × 32kb segments (1.x only,
		// when no taskmanager.memory.network.* option is set).
		{name: "legacy buffers 1.17", ver: "1.17.2", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.network.numberOfBuffers", "4096"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 192 * mib, Metaspace: 256 * mib,
				Managed: 536870920, Network: 4096 * 32 << 10, TaskHeap: 1280*mib - 256*mib - 536870920 - 4096*32<<10, CPUCores: 1, Slots: 1}},
		{name: "legacy buffers ignored by 2.x", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.network.numberOfBuffers", "4096"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 192 * mib, Metaspace: 256 * mib,
				Managed: 536870920, Network: 134217730, TaskHeap: 402653174, CPUCores: 1, Slots: 1}},
		// Deprecated keys still count (taskmanager.memory.size for managed).
		{name: "deprecated managed key", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.memory.size", "100m", "taskmanager.cpu.cores", "2.5", "taskmanager.numberOfTaskSlots", "4"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, Overhead: 192 * mib, Metaspace: 256 * mib,
				Managed: 100 * mib, Network: 134217730, TaskHeap: 1280*mib - 256*mib - 100*mib - 134217730, CPUCores: 2.5, Slots: 4}},
		// Fine-grained: task heap and managed set; the network is the
		// inverse fraction of the rest (1152m × 0.1/0.9), and the process
		// size leaves the overhead.
		{name: "fine-grained", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "2048m", "taskmanager.memory.task.heap.size", "384m", "taskmanager.memory.managed.size", "512m"},
			want: TaskManagerMemory{FrameworkHeap: 128 * mib, FrameworkOffHeap: 128 * mib, TaskHeap: 384 * mib, Managed: 512 * mib, Metaspace: 256 * mib,
				Network: 134217730, Overhead: 536870910, CPUCores: 1, Slots: 1}},
		// The same in a 1728m container leaves 2 bytes too little overhead:
		// Flink refuses it too.
		{name: "fine-grained too tight", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.memory.task.heap.size", "384m", "taskmanager.memory.managed.size", "512m"},
			err: "derived JVM Overhead size (192.000mb (201326590 bytes)) is not in configured JVM Overhead range"},
		{name: "too small", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "900m"},
			err: "exceed configured Total Flink Memory (452.000mb (473956352 bytes))"},
		{name: "bad fraction", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1g", "taskmanager.memory.jvm-overhead.fraction", "1.5"},
			err: "inconsistently configured taskmanager.memory.jvm-overhead.fraction"},
		{name: "bad size", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1.5g"},
			err: `cannot read memory size from config option 'taskmanager.memory.process.size': memory size "1.5g": unknown unit ".5g"`},
		{name: "no size", ver: "2.0.0", kv: nil, err: "need to be configured explicitly"},
		{name: "zero cores", ver: "2.0.0", kv: []string{"taskmanager.memory.process.size", "1728m", "taskmanager.cpu.cores", "0"}, err: "positive number of CPU cores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := TaskManagerMemoryFromConfig(conf(tc.kv...), v(tc.ver))
			if tc.err != "" {
				require.ErrorContains(t, err, "TaskManager memory configuration failed: ")
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.want.ExternalResources == nil {
				tc.want.ExternalResources = map[string]int64{}
			}
			require.Equal(t, tc.want, m)
			if p, ok := conf(tc.kv...).Get("taskmanager.memory.process.size"); ok {
				want, _ := ParseMemorySize(p)
				require.Equal(t, want, m.TotalProcess(), "the parts add up to the container's process size")
			}
		})
	}
}

func TestJobManagerMemoryRules(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		kv   []string
		ver  string
		want JobManagerMemory
		err  string
	}{
		// -jm 1024 minus the AM's 64 MB: overhead 96m → 192m, heap = 960-192-256-128.
		{name: "960m", ver: "2.0.0", kv: []string{"jobmanager.memory.process.size", "960m"},
			want: JobManagerMemory{Heap: 384 * mib, OffHeap: 128 * mib, Metaspace: 256 * mib, Overhead: 192 * mib}},
		{name: "direct limit", ver: "2.0.0", kv: []string{"jobmanager.memory.process.size", "960m", "jobmanager.memory.enable-jvm-direct-memory-limit", "true"},
			want: JobManagerMemory{Heap: 384 * mib, OffHeap: 128 * mib, Metaspace: 256 * mib, Overhead: 192 * mib, DirectLimit: true}},
		// jobmanager.heap.size is jobmanager.memory.heap.size in 1.x.
		{name: "legacy heap 1.17", ver: "1.17.2", kv: []string{"jobmanager.memory.process.size", "1600m", "jobmanager.heap.size", "1000m"},
			want: JobManagerMemory{Heap: 1000 * mib, OffHeap: 128 * mib, Metaspace: 256 * mib, Overhead: (1600 - 1128 - 256) * mib}},
		{name: "flink size", ver: "1.17.2", kv: []string{"jobmanager.memory.process.size", "1600m", "jobmanager.memory.flink.size", "1152m"},
			want: JobManagerMemory{Heap: 1024 * mib, OffHeap: 128 * mib, Metaspace: 256 * mib, Overhead: 192 * mib}},
		{name: "heap and off-heap disagree with flink", ver: "2.0.0", kv: []string{"jobmanager.memory.process.size", "1600m", "jobmanager.memory.flink.size", "1152m", "jobmanager.memory.heap.size", "1000m", "jobmanager.memory.off-heap.size", "100m"},
			err: "does not match the configured Total Flink Memory"},
		{name: "too small", ver: "2.0.0", kv: []string{"jobmanager.memory.process.size", "576m"},
			err: "the configured Total Flink Memory (128.000mb (134217728 bytes)) is less than the configured Off-heap Memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := JobManagerMemoryFromConfig(conf(tc.kv...), v(tc.ver))
			if tc.err != "" {
				require.ErrorContains(t, err, "JobManager memory configuration failed: ")
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, m)
		})
	}
}

// MemorySize.parseBytes (flink-core-api .../configuration/MemorySize.java):
// binary units, case-insensitive, blanks allowed before the unit.
func TestParseMemorySize(t *testing.T) {
	for in, want := range map[string]MemorySize{"0": 0, "1728m": 1728 << 20, "1 g": 1 << 30, "64MB": 64 << 20, "32kb": 32 << 10,
		"1t": 1 << 40, "17 bytes": 17, "2 Mebibytes": 2 << 20, " 5k ": 5 << 10} {
		got, err := ParseMemorySize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "m", "1.5g", "-1m", "1x", "99999999999999999999", "9223372036854775807k"} {
		_, err := ParseMemorySize(in)
		require.Error(t, err, in)
	}
}

// Double.toString, which Flink uses for taskmanager.cpu.cores.
func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 40: "40.0", 2.5: "2.5", 0.001: "0.001", 0.0001: "1.0E-4", 1e7: "1.0E7", 123456.5: "123456.5", 1.5e10: "1.5E10"} {
		require.Equal(t, want, javaDouble(f), fmt.Sprint(f))
	}
}

// The iteration order of a java.util.HashMap (checked with a JDK 17
// HashMap for these keys, and against the capture above).
func TestJavaHashMapOrder(t *testing.T) {
	keys := []string{"jobmanager.memory.heap.size", "jobmanager.memory.off-heap.size", "jobmanager.memory.jvm-metaspace.size",
		"jobmanager.memory.jvm-overhead.min", "jobmanager.memory.jvm-overhead.max"}
	require.Equal(t, []string{"jobmanager.memory.off-heap.size", "jobmanager.memory.jvm-overhead.min", "jobmanager.memory.jvm-metaspace.size",
		"jobmanager.memory.heap.size", "jobmanager.memory.jvm-overhead.max"}, javaHashMapOrder(keys))
	require.Equal(t, []string{"a", "b", "c"}, javaHashMapOrder([]string{"c", "b", "a"}))
}

func TestExternalResourcesInDynamicArgs(t *testing.T) {
	m, err := TaskManagerMemoryFromConfig(conf("taskmanager.memory.process.size", "1728m", "external-resources", "gpu;fpga",
		"external-resource.gpu.amount", "2", "external-resource.fpga.amount", "0"), v("2.0.0"))
	require.NoError(t, err)
	args := strings.Join(m.DynamicArgs(), " ")
	require.Contains(t, args, `-D external-resources="gpu"`)
	require.Contains(t, args, "-D external-resource.gpu.amount=2")
	require.NotContains(t, args, "fpga", "a resource without a positive amount is ignored, as ExternalResourceUtils does")
}
