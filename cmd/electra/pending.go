package main

import "context"

// Subcommands whose issues have not landed yet. Each exits with status 3 and
// says so; its help names the issue that brings it. When a stage lands, its
// entry moves out of this file into its own.
func init() {
	for _, p := range []struct{ name, summary, issue string }{} {
		p := p
		register(&command{
			name:    p.name,
			summary: p.summary + " (not implemented yet)",
			run: func(ctx context.Context, args []string) error {
				fs := newFlags(p.name, "", p.summary+".\n\nNot implemented yet: arrives with "+p.issue+". Exits with status 3 until then.")
				if err := parse(fs, args); err != nil {
					return err
				}
				return errNotImplemented
			},
		})
	}
}
