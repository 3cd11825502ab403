package main

import (
	"errors"
	"flag"
	"io"
	"strconv"
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
