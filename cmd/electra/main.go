// Command electra pre-trains ELECTRA encoders from streaming corpora.
//
// One binary, one subcommand per stage; see `electra help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Each lives in its own file and registers
// itself from init, so stages can be added without touching this file.
type command struct {
	name    string
	summary string
	// run parses args itself (with a flag.FlagSet whose Usage explains every
	// flag) and returns errUsage for bad flags.
	run func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("electra: duplicate subcommand " + c.name)
	}
	commands[c.name] = c
}

// errUsage means the flag set has already printed what was wrong.
var errUsage = errors.New("usage")

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))
	reexecForMADVFree(os.Args[1:])
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("ELECTRA_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				_ = c.run(context.Background(), []string{"-h"})
				return 0
			}
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "electra: unknown subcommand %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	// SIGINT/SIGTERM cancel the context; every stage drains and commits
	// what it has acknowledged before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runCommand(ctx, c, args[1:], stderr)
}

// runCommand runs one subcommand and maps its error to the exit code.
func runCommand(ctx context.Context, c *command, args []string, stderr io.Writer) int {
	err := c.run(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "electra %s: interrupted\n", c.name)
		return 130
	default:
		fmt.Fprintf(stderr, "electra %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "electra pre-trains ELECTRA text encoders from streaming corpora.")
	fmt.Fprintln(w, "\nUsage: electra <subcommand> [flags]   (electra <subcommand> -h for its flags)")
	fmt.Fprintln(w, "\nSubcommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set whose -h output starts with the subcommand's
// one-line usage and description.
func newFlags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: electra %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parse wraps FlagSet.Parse so that bad flags map to errUsage and -h to
// flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	return nil
}
