package conf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultFS(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"unset", nil, "file:///"},
		{"hdfs uri", []string{KeyDefaultFS, " hdfs://nn:8020 "}, "hdfs://nn:8020"},
		{"local", []string{KeyDefaultFS, "local"}, "file:///"},
		{"bare authority", []string{KeyDefaultFS, "nn:8020"}, "hdfs://nn:8020"},
		{"deprecated name", []string{"fs.default.name", "hdfs://old"}, "hdfs://old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newConf(t, Options{}, tc.kv...).DefaultFS()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNameNodes(t *testing.T) {
	ha := []string{
		KeyDefaultFS, "hdfs://mycluster",
		KeyDFSNameservices, "mycluster,fed",
		"dfs.ha.namenodes.mycluster", "nn1, nn2,nn3",
		"dfs.namenode.rpc-address.mycluster.nn1", "nn1.example.com:8020",
		"dfs.namenode.rpc-address.mycluster.nn2", "nn2.example.com",
		"dfs.namenode.rpc-address.fed", "fed.example.com:9000",
	}
	cases := []struct {
		name string
		kv   []string
		uri  string
		want []NameNodeAddr
		err  string
		kind error
	}{
		{
			name: "host uri default port",
			uri:  "hdfs://nn.example.com/user/x",
			want: []NameNodeAddr{{Address: "nn.example.com:8020"}},
		},
		{
			name: "host uri with port",
			uri:  "hdfs://nn.example.com:9000",
			want: []NameNodeAddr{{Address: "nn.example.com:9000"}},
		},
		{
			name: "empty uri uses defaultFS",
			kv:   []string{KeyDefaultFS, "hdfs://localhost:39000"},
			want: []NameNodeAddr{{Address: "localhost:39000", Key: KeyDefaultFS, Source: Source{"test.xml", 3}}},
		},
		{
			name: "path only uses defaultFS",
			kv:   []string{KeyDefaultFS, "hdfs://localhost:39000"},
			uri:  "/user/spindle",
			want: []NameNodeAddr{{Address: "localhost:39000", Key: KeyDefaultFS, Source: Source{"test.xml", 3}}},
		},
		{
			name: "scheme without authority takes defaultFS authority",
			kv:   []string{KeyDefaultFS, "hdfs://localhost:39000"},
			uri:  "hdfs:///user/spindle",
			want: []NameNodeAddr{{Address: "localhost:39000", Key: KeyDefaultFS, Source: Source{"test.xml", 3}}},
		},
		{
			name: "HA nameservice skips ids without address",
			kv:   ha,
			want: []NameNodeAddr{
				{NameService: "mycluster", NameNodeID: "nn1", Address: "nn1.example.com:8020", Key: "dfs.namenode.rpc-address.mycluster.nn1", Source: Source{"test.xml", 6}},
				{NameService: "mycluster", NameNodeID: "nn2", Address: "nn2.example.com:8020", Key: "dfs.namenode.rpc-address.mycluster.nn2", Source: Source{"test.xml", 7}},
			},
		},
		{
			name: "federated nameservice without HA",
			kv:   ha,
			uri:  "hdfs://fed/tmp",
			want: []NameNodeAddr{{NameService: "fed", Address: "fed.example.com:9000", Key: "dfs.namenode.rpc-address.fed", Source: Source{"test.xml", 8}}},
		},
		{
			name: "logical uri with port",
			kv:   ha,
			uri:  "hdfs://mycluster:8020/",
			err:  `conf: "hdfs://mycluster:8020/" names a port, but "mycluster" is a logical nameservice`,
			kind: ErrInvalidValue,
		},
		{
			name: "nameservice without namenodes",
			kv:   []string{KeyDFSNameservices, "ns"},
			uri:  "hdfs://ns",
			err:  `conf: test.xml:3: dfs.namenode.rpc-address.ns: nameservice "ns" has neither dfs.ha.namenodes.ns nor dfs.namenode.rpc-address.ns`,
			kind: ErrMissingKey,
		},
		{
			name: "HA ids without any address",
			kv:   []string{KeyDFSNameservices, "ns", "dfs.ha.namenodes.ns", "a,b"},
			uri:  "hdfs://ns",
			err:  "conf: test.xml:4: dfs.ha.namenodes.ns: no dfs.namenode.rpc-address.ns.<id> is set for any listed namenode",
			kind: ErrMissingKey,
		},
		{
			name: "bad namenode address",
			kv:   []string{KeyDFSNameservices, "ns", "dfs.ha.namenodes.ns", "a", "dfs.namenode.rpc-address.ns.a", "x:y"},
			uri:  "hdfs://ns",
			err:  `conf: test.xml:5: dfs.namenode.rpc-address.ns.a: "x:y": invalid port "y"`,
			kind: ErrInvalidValue,
		},
		{
			name: "default file system is local",
			err:  `conf: fs.defaultFS: "file:///" is not an hdfs:// URI`,
			kind: ErrNotHDFS,
		},
		{
			name: "other scheme",
			uri:  "s3a://bucket/x",
			err:  `conf: "s3a://bucket/x" is not an hdfs:// URI`,
			kind: ErrNotHDFS,
		},
		{
			name: "defaultFS without host",
			kv:   []string{KeyDefaultFS, "hdfs:///"},
			err:  `conf: test.xml:3: fs.defaultFS: "hdfs:///" names no host`,
			kind: ErrInvalidValue,
		},
		{
			name: "unparsable uri",
			uri:  "hdfs://nn:port",
			err:  `conf: invalid URI "hdfs://nn:port"`,
			kind: ErrInvalidValue,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newConf(t, Options{}, tc.kv...).NameNodes(tc.uri)
			if tc.err != "" {
				require.ErrorIs(t, err, tc.kind)
				require.Equal(t, tc.err, err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
