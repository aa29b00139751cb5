package schemas

import "bytes"

// DeadLetter is what any stage writes to a dead-letter topic or file when an
// input cannot be turned into output. It carries enough to find the input
// again (file and byte offset, or topic/partition/offset) and to see why.
type DeadLetter struct {
	// Stage that gave up: "ingest", "transform", ...
	Stage string `json:"stage"`
	// Reason is a short machine-countable cause ("invalid-utf8",
	// "too-large", "malformed-xml", ...).
	Reason string `json:"reason"`
	// Error is the full human-readable error.
	Error string `json:"error,omitempty"`
	// SourceFile and Offset locate the input in a file (byte offset of the
	// record's start, in the uncompressed stream unless noted in Error).
	SourceFile string `json:"source_file,omitempty"`
	Offset     int64  `json:"offset"`
	// RecordID is the native id (page id, DOC id, Kafka key) when known.
	RecordID string `json:"record_id,omitempty"`
	// Topic, Partition and KafkaOffset locate an input that came from Kafka.
	Topic       string `json:"topic,omitempty"`
	Partition   int32  `json:"partition,omitempty"`
	KafkaOffset int64  `json:"kafka_offset,omitempty"`
	// Excerpt is the start of the raw input, capped at DeadLetterExcerptBytes
	// and repaired to valid UTF-8 so the record itself is always valid JSON.
	Excerpt string `json:"excerpt,omitempty"`
}

// DeadLetterExcerptBytes caps DeadLetter.Excerpt.
const DeadLetterExcerptBytes = 1024

// Excerpt returns the first DeadLetterExcerptBytes of raw as valid UTF-8.
func Excerpt(raw []byte) string {
	if len(raw) > DeadLetterExcerptBytes {
		raw = raw[:DeadLetterExcerptBytes]
	}
	return string(bytes.ToValidUTF8(raw, []byte("\uFFFD")))
}
