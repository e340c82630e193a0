package flink_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
)

// A per-job preview shows Flink's application entry point with the job's
// class and arguments after "--", the session one the session entry
// point; the Java is the NodeManager's when -D names none, and nothing
// of the submitter's machine (the temporary directory) shows.
func TestPreviewPerJob(t *testing.T) {
	for _, tc := range []struct {
		mode  amapi.Mode
		entry string
	}{{amapi.ModePerJob, flink.ApplicationEntrypoint}, {amapi.ModeSession, flink.SessionEntrypoint}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			r := request(tc.mode)
			if tc.mode == amapi.ModePerJob {
				r.Job, r.Args = "examples/streaming/WordCount.jar", []string{"--input", "in"}
			}
			pv, err := newPayload(t, home117, "org.example.Job").Preview(r)
			require.NoError(t, err)
			require.Len(t, pv, 2)
			jm, tm := pv[0], pv[1]
			require.Equal(t, tc.entry, jm.EntryClass)
			require.Equal(t, flink.TaskManagerEntrypoint, tm.EntryClass)
			require.Equal(t, "<JAVA_HOME>/bin/java", jm.Command[0])
			cmd := strings.Join(jm.Command, " ")
			if tc.mode == amapi.ModePerJob {
				require.True(t, strings.HasSuffix(cmd, " --job-classname org.example.Job -- --input in"), cmd)
			}
			require.Equal(t, "<WORK_DIR>/flink-conf/flink-conf.yaml", jm.ConfigFile)
			all := cmd + strings.Join(tm.Command, " ")
			for _, c := range append(jm.Config, tm.Config...) {
				all += c.Key + c.Value
			}
			require.NotContains(t, all, "spindle-flink-preview-")
		})
	}
}
