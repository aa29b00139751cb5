// Package ingest reads corpus files (Wikipedia dumps, books, Gigaword SGML,
// WARC/WET web crawls), cleans them into one-sentence-per-line documents and
// produces them to Kafka (or a JSON-lines sink) under the schemas document
// contract (schemas.Document, electra.doc.v1).
//
// # Adding a format
//
// A format is one file that implements Reader and registers an OpenFunc
// from init:
//
//	func init() { Register("warc", openWARC) }
//
//	func openWARC(path string, opts Options) (Reader, error)
//
// A Reader reads one input file. Its Records method returns an
// iter.Seq2[Record, error] that the pipeline ranges over once:
//
//	for rec, err := range r.Records() {
//		if err != nil { … the rest of the file is unreadable … }
//		…
//	}
//
// The rules a Reader follows:
//
//   - Yield records in file order with strictly increasing Record.Offset:
//     the byte offset where the record starts in the decompressed input.
//     The resume file stores the offset of the last acknowledged record and
//     a re-run skips every record at or before it, so offsets must be the
//     same on every read of the same file.
//   - Put paragraphs in Doc.Text separated by blank lines; a single newline
//     inside a paragraph is a soft wrap. Do not split sentences: the
//     pipeline does that (Punkt, in parallel) for every format alike.
//   - Fill Doc.ID deterministically (source + native id, or a content
//     hash) so that re-ingesting a file yields the same Kafka keys; Source,
//     Title, URL and Lang as known. Options.source and Options.lang give the
//     defaults.
//   - A record that cannot be parsed is not an error: yield it with Dead set
//     (deadLetter builds one with reason, file, offset, native id and a raw
//     excerpt) and carry on. A record deliberately left out (a redirect, a
//     non-story) gets Skip set to a short countable reason. A record fixed
//     up to be usable (invalid UTF-8 replaced) gets Repaired set.
//   - Return an error only when the rest of the file cannot be read
//     (corrupt compression, I/O). Name the file and the offset. The
//     pipeline dead-letters it and goes on with the next file.
//   - Never hold more than one record (capped by Options.MaxRecordBytes;
//     scanElements finds delimited records without reading past the cap)
//     or a bounded window of the file in memory. openInput undoes gzip and
//     bzip2 by magic bytes and counts stored bytes for BytesRead.
//
// # The pipeline
//
// Run expands inputs, opens each file with the format's Reader, lays out
// sentences on Config.Workers goroutines (keeping input order), skips
// exact duplicates (FNV-64 of the laid-out text, persisted next to the
// resume file), caps document size (split into parts or dead-letter), and
// writes batches to a Sink. A Sink's Write returns only when the batch is
// durable (Kafka acks from all in-sync replicas, or fsync); only then is
// the resume file replaced, atomically. After a kill, the Kafka sink reads
// back what the dead run wrote after its last checkpoint and those ids are
// not produced again, so a killed and resumed ingest leaves every document
// in the topic exactly once; the JSON-lines sink truncates its files back
// to the checkpoint instead.
package ingest
