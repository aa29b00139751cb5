// Package pipelines loads declarative pipeline files (YAML) that wire the
// broker, the stages and the trainer together.
package pipelines
