package flink

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// env.java.opts as Flink's scripts use them (flink-dist/src/main/flink-bin/bin/config.sh
// strips one leading and one trailing double quote with sed;
// flink-console.sh and flink-daemon.sh run `eval echo` over the options
// and pass them unquoted, so the shell expands variables, removes quotes
// and splits at blanks).
func TestEvalEchoWords(t *testing.T) {
	env := newEnviron([]string{"HOME=/home/u", "EMPTY=", "SP=a b"})
	for in, want := range map[string][]string{
		"":                              {},
		"  -Xss1m   -Da=b ":             {"-Xss1m", "-Da=b"},
		"-Dhome=$HOME -Dx=${HOME}/x":    {"-Dhome=/home/u", "-Dx=/home/u/x"},
		`-Dq="a b" -Ds='$HOME' -De=$NO`: {"-Dq=a", "b", "-Ds=$HOME", "-De="},
		`-Dsp=$SP -Dd="$SP"`:            {"-Dsp=a", "b", "-Dd=a", "b"},
		`-Desc=\$HOME -Dc=a\ b $ $1`:    {"-Desc=$HOME", "-Dc=a", "b", "$", "$1"},
		`"-Dx=\"y\""`:                   {`-Dx="y"`},
	} {
		got, err := evalEchoWords(in, env)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{`-Dx="y`, `-Dx='y`} {
		_, err := evalEchoWords(in, env)
		require.ErrorContains(t, err, "unterminated", in)
	}
	require.Equal(t, "-Da -Db", stripQuotes(`"-Da -Db"`))
	require.Equal(t, ` "-Da`, stripQuotes(` "-Da"`), "sed strips only a quote at the very start")
}

func TestJavaOptsByVersion(t *testing.T) {
	env := newEnviron(nil)
	spec := func(n int) func() int { return func() int { return n } }
	opts := func(ver string, r Role, jdk int, kv ...string) ([]string, bool) {
		o, g1, err := javaOpts(conf(kv...), v(ver), r, env, spec(jdk))
		require.NoError(t, err)
		return o, g1
	}
	o, g1 := opts("1.17.2", RoleTaskManager, 21)
	require.Empty(t, o)
	require.True(t, g1, "taskmanager.sh adds -XX:+UseG1GC when no options are set")
	o, g1 = opts("1.17.2", RoleTaskManager, 21, "env.java.opts", `"-Dold=1"`, "env.java.opts.jobmanager", "-Djm")
	require.Equal(t, []string{"-Dold=1"}, o, "the deprecated env.java.opts, its quotes stripped; not the JobManager's")
	require.False(t, g1)
	o, _ = opts("1.18.1", RoleJobManager, 21, "env.java.opts.jobmanager", "-Djm", "env.java.default-opts.all", "-Dignored")
	require.Equal(t, []string{"-XX:+IgnoreUnrecognizedVMOptions", "-Djm"}, o, "1.18: the flag, but no default-opts yet and no security manager")
	o, _ = opts("1.19.0", RoleJobManager, 18, "env.java.opts.all", "-Dall", "env.java.default-opts.all", "-Ddef", "env.java.default-opts.jobmanager", "-Ddefjm")
	require.Equal(t, []string{"-XX:+IgnoreUnrecognizedVMOptions", "-Ddef", "-Dall", "-Djava.security.manager=allow", "-Ddefjm"}, o)
	o, _ = opts("2.0.0", RoleJobManager, 17)
	require.Equal(t, []string{"-XX:+IgnoreUnrecognizedVMOptions"}, o, "JDK 17: no security manager flag")
}

func TestParseJavaSpecVersion(t *testing.T) {
	for out, want := range map[string]int{
		"Property settings:\n    java.specification.version = 17\n":    17,
		"    java.specification.version = 1.8\n    java.version = 1.8": 8,
		"java.specification.version=21":                                21,
	} {
		got, err := parseJavaSpecVersion([]byte(out))
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := parseJavaSpecVersion([]byte("Error: could not create the JVM"))
	require.Error(t, err)
}
