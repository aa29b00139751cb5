// Package ingest reads corpus files (Wikipedia dumps, books, Gigaword SGML,
// WARC/WET web crawls), cleans them into one-sentence-per-line documents and
// produces them to Kafka (or a JSON-lines sink) under the schemas document
// contract.
package ingest
