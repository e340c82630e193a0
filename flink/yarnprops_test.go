package flink_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/flink"
)

// Flink's client finds the current session in
// <yarn.properties-file.location or java.io.tmpdir>/.yarn-properties-<user.name>,
// a java.util.Properties file whose applicationID names it
// (flink-yarn .../yarn/cli/FlinkYarnSessionCli.java: YARN_PROPERTIES_FILE,
// YARN_APPLICATION_ID_KEY, getYarnPropertiesLocation; YarnConfigOptions.PROPERTIES_FILE_LOCATION).
func TestYarnProperties(t *testing.T) {
	path, b, err := newPayload(t, home117, "").YarnProperties("application_1700000000000_0007", "alice")
	require.NoError(t, err)
	require.Equal(t, "/tmp/.yarn-properties-alice", path)
	require.Equal(t, "#Generated YARN properties file\napplicationID=application_1700000000000_0007\n", string(b))

	h := copyDist(t, home200)
	f, err := os.OpenFile(filepath.Join(h, "conf/config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("yarn:\n  properties-file:\n    location: /var/run/flink\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	path, _, err = newPayload(t, h, "").YarnProperties("application_1700000000000_0007", "bob")
	require.NoError(t, err)
	require.Equal(t, "/var/run/flink/.yarn-properties-bob", path)

	_, _, err = flink.YarnPropertiesFile("", "../x", "application_1_0001")
	require.Error(t, err)
	_, b, err = flink.YarnPropertiesFile("/d", "u", "a=b:c#d!e\\f g\u00e9")
	require.NoError(t, err)
	require.Equal(t, "#Generated YARN properties file\napplicationID=a\\=b\\:c\\#d\\!e\\\\f g\\u00E9\n", string(b), "escaped as Properties.store does")
}
