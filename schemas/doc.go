// Package schemas holds the contracts between stages: the JSON document
// message that ingest produces, the Arrow example batches that transform
// produces, and the Kafka headers that label them. Stages import this
// package, never each other.
package schemas
