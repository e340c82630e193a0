package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Shell completion rides on urfave/cli's protocol: the shell runs
// `spindle WORDS... --generate-bash-completion` and offers the lines it
// prints (the commands, or the flags after a "-"). The bash and zsh
// scripts are urfave/cli's autocomplete/ scripts for a program named
// spindle, the bash one without bash-completion's helpers so that it works
// in a plain bash too; fish's comes from the App itself.

const bashCompletion = `# bash completion for spindle: source <(spindle completion bash)
_spindle_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local req=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    req+=("$cur")
  fi
  local opts
  opts=$("${req[@]}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _spindle_complete spindle
`

const zshCompletion = `#compdef spindle
# zsh completion for spindle: source <(spindle completion zsh), or save as _spindle on $fpath
_spindle() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _spindle spindle
`

func completionCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Load it in the current shell, or add the line to your shell's startup file:\n" +
			"   bash: source <(spindle completion bash)       (~/.bashrc)\n" +
			"   zsh:  source <(spindle completion zsh)        (~/.zshrc, after compinit)\n" +
			"   fish: spindle completion fish | source        (~/.config/fish/config.fish)\n" +
			"spindle must be on PATH under that name.",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{fmt.Errorf("completion: want one shell: bash, zsh or fish, e.g. source <(spindle completion bash)")}
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				fmt.Fprint(e.stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(e.stdout, zshCompletion)
			case "fish":
				// From a fresh App: one that ran has urfave/cli's shared
				// help command among its subcommands, which fish.go recurses
				// into without end.
				fresh, _ := newApp(e.stdout, e.stderr, e.lookup)
				s, err := fresh.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(e.stdout, s)
			default:
				return usageError{fmt.Errorf("completion %q: want bash, zsh or fish", sh)}
			}
			return nil
		},
	}
}
