package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"
)

// parseInterspersed parses args with fs, allowing flags before and after
// positional arguments (package flag stops at the first positional one).
// Everything after a "--" argument is positional. It returns the positional
// arguments in order. Errors are those of fs.Parse (flag.ErrHelp for
// -h/--help); fs should use flag.ContinueOnError.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a silent ContinueOnError flag set: run prints errors
// and usage itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// uint32Value is a flag.Value for a uint32 (decimal, 0x hex, 0o octal).
type uint32Value uint32

func (v *uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return numError(err)
	}
	*v = uint32Value(n)
	return nil
}

func (v *uint32Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

// uint64Value is a flag.Value for a uint64.
type uint64Value uint64

func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return numError(err)
	}
	*v = uint64Value(n)
	return nil
}

func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

// float32Value is a flag.Value for a float32. NaN and infinities parse (the
// request validation refuses them with the protocol's own message).
type float32Value float32

func (v *float32Value) Set(s string) error {
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return numError(err)
	}
	*v = float32Value(f)
	return nil
}

func (v *float32Value) String() string {
	return strconv.FormatFloat(float64(*v), 'g', -1, 32)
}

// numError turns a strconv error into "invalid syntax" / "value out of range".
func numError(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if errors.Is(ne.Err, strconv.ErrRange) {
			return errors.New("value out of range")
		}
		return errors.New("not a number")
	}
	return err
}

// flagSpelling is how the help spells flag name: "-o" for one letter,
// "--width" otherwise.
func flagSpelling(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	reInvalid   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -+([^:]*): (.*)$`)
	reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// flagError rewrites an error of package flag so flags are spelled as the
// help spells them ("--width", not "-width").
func flagError(err error) error {
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		return &usageErr{msg: "unknown flag " + flagSpelling(m[1])}
	}
	if m := reInvalid.FindStringSubmatch(msg); m != nil {
		return &usageErr{msg: fmt.Sprintf("invalid value %q for %s: %s", m[1], flagSpelling(m[2]), m[3])}
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		return &usageErr{msg: flagSpelling(m[1]) + " needs a value"}
	}
	return &usageErr{msg: msg}
}

// durationValue is a flag.Value for a time.Duration that explains a
// missing unit ("5" -> "add a unit: 5s").
type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err == nil {
		*v = durationValue(d)
		return nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return fmt.Errorf("a duration needs a unit: did you mean %ss?", s)
	}
	return errors.New("not a duration (e.g. 30s, 2m, 1m30s)")
}

func (v *durationValue) String() string { return time.Duration(*v).String() }

// usageErr is a command-line error (exit code 2).
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }
