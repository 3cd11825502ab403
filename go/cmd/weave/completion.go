package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const completionUsage = `Usage: weave completion bash|zsh|fish

Prints a completion script for the shell. Load it with:
  bash:  source <(weave completion bash)        (or save it under
         ~/.local/share/bash-completion/completions/weave)
  zsh:   source <(weave completion zsh)
  fish:  weave completion fish | source         (or save it as
         ~/.config/fish/completions/weave.fish)
`

// completionFlags are the flags of each command as the help spells them;
// a trailing "=" marks a flag that takes a value.
var completionFlags = map[string][]string{
	"generate":   {"-o=", "--output=", "--width=", "--height=", "--steps=", "--cfg=", "--seed=", "--timeout=", "--png-compression=", "--fsync", "--json", "--no-autostart", "--help"},
	"status":     {"--json", "--timeout=", "--help"},
	"stop":       {"--timeout=", "--help"},
	"version":    {"--help"},
	"completion": {"--help"},
	"help":       {},
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// flagWords returns the flags of cmd, without the "=" marks.
func flagWords(cmd string, valued bool) []string {
	var out []string
	for _, f := range completionFlags[cmd] {
		v := strings.HasSuffix(f, "=")
		if !valued || v {
			out = append(out, strings.TrimSuffix(f, "="))
		}
	}
	return out
}

func runCompletion(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("completion")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, completionUsage)
			return exitOK
		}
		return usageError(stderr, "completion", flagError(err).Error())
	}
	if len(positional) != 1 {
		return usageError(stderr, "completion", "completion needs one shell: bash, zsh or fish")
	}
	switch positional[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion())
	case "zsh":
		fmt.Fprint(stdout, zshCompletion())
	case "fish":
		fmt.Fprint(stdout, fishCompletion())
	default:
		return usageError(stderr, "completion", fmt.Sprintf("unknown shell %q (want bash, zsh or fish)", positional[0]))
	}
	return exitOK
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for weave (weave completion bash)
_weave() {
    local cur prev cmd
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [ "$COMP_CWORD" -le 1 ]; then
        COMPREPLY=($(compgen -W "`)
	b.WriteString(strings.Join(commandNames(), " "))
	b.WriteString(`" -- "$cur"))
        return 0
    fi
    cmd="${COMP_WORDS[1]}"
    case "$prev" in
    -o|--output)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0 ;;
    --png-compression)
        COMPREPLY=($(compgen -W "fast default best" -- "$cur"))
        return 0 ;;
    --width|--height|--steps|--cfg|--seed|--timeout)
        COMPREPLY=()
        return 0 ;;
    esac
    case "$cmd" in
`)
	for _, c := range commandNames() {
		words := flagWords(c, false)
		switch c {
		case "help":
			words = commandNames()
		case "completion":
			words = append([]string{"bash", "zsh", "fish"}, words...)
		}
		fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c, strings.Join(words, " "))
	}
	b.WriteString(`    *) COMPREPLY=() ;;
    esac
    return 0
}
complete -o default -F _weave weave
`)
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString(`#compdef weave
# zsh completion for weave (weave completion zsh)
_weave() {
    local -a cmds
    cmds=(
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "        %q\n", c.name+":"+c.summary)
	}
	b.WriteString(`    )
    if (( CURRENT == 2 )); then
        _describe 'command' cmds
        return
    fi
    case "$words[2]" in
`)
	for _, c := range commandNames() {
		var words []string
		switch c {
		case "help":
			words = commandNames()
		case "completion":
			words = []string{"bash", "zsh", "fish"}
		}
		words = append(words, flagWords(c, false)...)
		fmt.Fprintf(&b, "    %s) _arguments '*:arg:(%s)' ;;\n", c, strings.Join(words, " "))
	}
	b.WriteString(`    esac
}
if [ "$funcstack[1]" = "_weave" ]; then
    _weave "$@"
else
    compdef _weave weave
fi
`)
	return b.String()
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for weave (weave completion fish)\n")
	b.WriteString("complete -c weave -f\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "complete -c weave -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range commandNames() {
		for _, f := range completionFlags[c] {
			valued := strings.HasSuffix(f, "=")
			f = strings.TrimSuffix(f, "=")
			opt := "-l " + strings.TrimPrefix(f, "--")
			if !strings.HasPrefix(f, "--") {
				opt = "-s " + strings.TrimPrefix(f, "-")
			}
			extra := ""
			switch {
			case f == "--png-compression":
				extra = " -x -a 'fast default best'"
			case f == "-o" || f == "--output":
				extra = " -r -F"
			case valued:
				extra = " -x"
			}
			fmt.Fprintf(&b, "complete -c weave -n '__fish_seen_subcommand_from %s' %s%s\n", c, opt, extra)
		}
	}
	b.WriteString("complete -c weave -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	fmt.Fprintf(&b, "complete -c weave -n '__fish_seen_subcommand_from help' -a '%s'\n", strings.Join(commandNames(), " "))
	return b.String()
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
