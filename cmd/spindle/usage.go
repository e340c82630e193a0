package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"
)

// Mistakes in how spindle is called all exit 2 (exitUsage) with a message
// that names the mistake and the closest thing that exists: an unknown
// command or flag, a flag on the wrong side of its command. urfave/cli's
// own handling prints help and exits 3 ("No help topic"), which means
// "the application does not exist" here.

// similar is how alike two names must be (Jaro-Winkler, as urfave/cli's
// suggestions) to be offered as "did you mean".
const similar = 0.7

// closest is the name among names most like typed, or "" when none is
// similar enough.
func closest(typed string, names []string) string {
	best, score := "", similar
	for _, n := range names {
		// urfave/cli's suggestion parameters: boost threshold 0.7, prefix 4.
		if len(n) == 1 && len(typed) > 2 {
			continue // any word is "similar" to -o or -d
		}
		if s := smetrics.JaroWinkler(typed, n, 0.7, 4); s >= score {
			best, score = n, s
		}
	}
	return best
}

// commandNames are the names and aliases of the visible commands.
func commandNames(cmds []*cli.Command) []string {
	var out []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			out = append(out, c.Names()...)
		}
	}
	return out
}

// helpOrUnknown is the action of spindle and of every command that only
// groups subcommands: without arguments it prints the help, with one it
// fails as an unknown command, naming the closest one.
func helpOrUnknown(c *cli.Context) error {
	if !c.Args().Present() {
		if c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
			return cli.ShowAppHelp(c)
		}
		return cli.ShowSubcommandHelp(c)
	}
	cmds, path := c.App.Commands, "spindle"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		cmds, path = c.Command.Subcommands, "spindle "+commandPath(c)
	}
	return unknownCommand(path, c.Args().First(), cmds)
}

// unknownCommand is the error of typed, which is none of the commands
// cmds of path ("spindle", "spindle app").
func unknownCommand(path, typed string, cmds []*cli.Command) error {
	msg := fmt.Sprintf("unknown command %q for %q", typed, path)
	if s := closest(typed, commandNames(cmds)); s != "" {
		msg += fmt.Sprintf(": did you mean %q (%s %s)?", s, path, s)
	} else {
		msg += fmt.Sprintf(": the commands are %s (see %s --help)", strings.Join(commandNames(cmds), ", "), path)
	}
	return usageError{fmt.Errorf("%s", msg)}
}

// onUsageError makes a flag error exit 2 and says what was meant: the
// closest flag of the command, that a global flag goes before the command
// or a command's flag after it, or the form a value takes.
func (e *environment) onUsageError(c *cli.Context, err error, _ bool) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	if v := valueHint(c, msg); v != "" {
		return usageError{fmt.Errorf("%w: %s", err, v)}
	}
	i := strings.Index(msg, undefined)
	if i < 0 {
		return usageError{err}
	}
	name := strings.TrimLeft(msg[i+len(undefined):], "-")
	if j := strings.IndexAny(name, " ="); j >= 0 {
		name = name[:j]
	}
	var flags []cli.Flag
	if c.Command != nil {
		flags = c.Command.Flags
	}
	isRoot := c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name
	if !isRoot {
		for _, f := range c.App.Flags {
			for _, n := range f.Names() {
				if n == name {
					return usageError{fmt.Errorf("%w: --%s is a global flag: put it before the command, e.g. spindle --%s … %s", err, name, name, commandPath(c))}
				}
			}
		}
	} else {
		p := typedFlagPath(c.App.Commands, e.args, name)
		for _, cmd := range c.App.Commands {
			if p == "" && !cmd.Hidden {
				p = flagPath(cmd, name)
			}
		}
		if p != "" {
			return usageError{fmt.Errorf("%w: -%s is not a global flag: put it after the command, e.g. spindle %s -%s …", err, name, p, name)}
		}
	}
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	if s := closest(name, names); s != "" {
		dash := "--"
		if len(s) == 1 {
			dash = "-"
		}
		return usageError{fmt.Errorf("%w: did you mean %s%s?", err, dash, s)}
	}
	return usageError{fmt.Errorf("%w (see spindle %s --help)", err, strings.TrimSpace(commandPath(c)))}
}

// typedFlagPath is the path of the command typed in args ("app list"),
// if it or a command above it has a flag name; else "".
func typedFlagPath(cmds []*cli.Command, args []string, name string) string {
	var path []string
	found := ""
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(a) {
				next = c
			}
		}
		if next == nil {
			continue // a flag's value, or an argument
		}
		path = append(path, next.Name)
		for _, f := range next.Flags {
			for _, n := range f.Names() {
				if n == name {
					found = strings.Join(path, " ")
				}
			}
		}
		cmds = next.Subcommands
	}
	return found
}

// valueHint is the form a flag's value takes, for an "invalid value"
// error; "" for other errors.
func valueHint(c *cli.Context, msg string) string {
	const invalid = "invalid value "
	i := strings.Index(msg, invalid)
	j := strings.Index(msg, " for flag -")
	if i < 0 || j < i {
		return ""
	}
	name := strings.TrimLeft(msg[j+len(" for flag "):], "-")
	if k := strings.IndexAny(name, ": "); k >= 0 {
		name = name[:k]
	}
	var flags []cli.Flag
	if c.Command != nil {
		flags = c.Command.Flags
	}
	flags = append(flags, c.App.Flags...)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			switch f.(type) {
			case *cli.DurationFlag:
				return "want a duration such as 90s, 30m or 2h"
			case *cli.IntFlag, *cli.Int64Flag:
				return "want a whole number"
			case *cli.BoolFlag:
				return "want true or false"
			}
		}
	}
	return ""
}

// flagPath is the path of cmd or of its first subcommand that has a flag
// name ("app list"), or "".
func flagPath(cmd *cli.Command, name string) string {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return cmd.Name
			}
		}
	}
	for _, s := range cmd.Subcommands {
		if p := flagPath(s, name); p != "" && !s.Hidden {
			return cmd.Name + " " + p
		}
	}
	return ""
}

// versionCommand prints what --version prints (or JSON).
func versionCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version (as --version)",
		ArgsUsage: " ",
		Flags:     []cli.Flag{outputFlag},
		Action: func(c *cli.Context) error {
			out, err := outputFormat(c)
			if err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("version takes no arguments (got %q)", c.Args().Slice())}
			}
			if out == "json" {
				(&printer{w: e.stdout, json: true}).value(map[string]string{"version": Version})
				return nil
			}
			cli.ShowVersion(c)
			return nil
		},
	}
}
