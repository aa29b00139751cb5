package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DocSchemaV1 names the document message format; producers put it in the
// HeaderSchema header of every record so consumers can refuse what they do
// not understand instead of guessing.
const DocSchemaV1 = "electra.doc.v1"

// Kafka header keys and values carried by every document record.
const (
	HeaderSchema      = "schema"
	HeaderContentType = "content-type"
	ContentTypeJSON   = "application/json"
)

// Default topic names. Deployments may override them with flags; these are
// what every stage assumes when none is given.
const (
	TopicDocs    = "electra.docs.v1"
	TopicDocsDLQ = "electra.docs.dlq.v1"
)

// Well-known values of Document.Source. Any other non-empty, lower-case
// token is allowed for custom producers.
const (
	SourceWikipedia   = "wikipedia"
	SourceBooks       = "books"
	SourceGigaword    = "gigaword"
	SourceClueWeb     = "clueweb"
	SourceCommonCrawl = "commoncrawl"
)

// MaxDocumentBytes is the largest JSON-encoded document the contract allows.
// It matches the embedded broker's 16 MiB message limit less headroom for
// the key, headers and record framing.
const MaxDocumentBytes = 16<<20 - 64<<10

// Document is one message on TopicDocs. Text holds one sentence per line
// and a blank line between paragraphs: downstream packing treats each line
// as a sentence and never crosses documents. The Kafka key is ID.
type Document struct {
	// ID is deterministic for a given input (source + native id, or a
	// content hash) so re-ingesting a file yields the same keys.
	ID string `json:"id"`
	// Source says which corpus the document came from (see Source*).
	Source string `json:"source"`
	Title  string `json:"title,omitempty"`
	URL    string `json:"url,omitempty"`
	// Lang is a BCP 47 tag such as "en"; empty means unknown.
	Lang string `json:"lang,omitempty"`
	Text string `json:"text"`
}

// FieldError says which field of a message is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Reason) }

// Validate checks the contract and returns a *FieldError naming the first
// offending field.
func (d *Document) Validate() error {
	if err := d.validateFields(true); err != nil {
		return err
	}
	return textError(len(d.Text), strings.TrimSpace(d.Text) == "")
}

// ValidateText is Validate for a document whose strings the decoder has
// already checked to be valid UTF-8, as JSON decoding does, and which
// kept the text in pieces rather than in d.Text (a transform worker
// tokenizes its lines where they lie in the message): it is given the
// text's length in bytes and whether it is nothing but white space, and
// does not read d.Text. (Reading the text through again cost a transform
// worker ~0.5% of its CPU.)
func (d *Document) ValidateText(textLen int, blank bool) error {
	if err := d.validateFields(false); err != nil {
		return err
	}
	return textError(textLen, blank)
}

// validateFields checks everything but the text's length and blankness
// (the text's UTF-8 too, with checkUTF8).
func (d *Document) validateFields(checkUTF8 bool) error {
	if d == nil {
		return &FieldError{Field: "document", Reason: "is null"}
	}
	if strings.TrimSpace(d.ID) == "" {
		return &FieldError{Field: "id", Reason: "is empty"}
	}
	if len(d.ID) > 1024 {
		return &FieldError{Field: "id", Reason: fmt.Sprintf("is %d bytes, the limit is 1024", len(d.ID))}
	}
	if d.Source == "" {
		return &FieldError{Field: "source", Reason: "is empty; use wikipedia, books, clueweb, commoncrawl, gigaword or a custom lower-case name"}
	}
	for _, r := range d.Source {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return &FieldError{Field: "source", Reason: fmt.Sprintf("%q must be lower-case letters, digits, '-', '_' or '.'", d.Source)}
		}
	}
	for _, f := range []struct{ name, v string }{{"id", d.ID}, {"title", d.Title}, {"url", d.URL}, {"lang", d.Lang}, {"text", d.Text}} {
		if checkUTF8 && !utf8.ValidString(f.v) {
			return &FieldError{Field: f.name, Reason: "is not valid UTF-8"}
		}
	}
	return nil
}

func textError(n int, blank bool) error {
	if blank {
		return &FieldError{Field: "text", Reason: "is empty"}
	}
	if n > MaxDocumentBytes {
		return &FieldError{Field: "text", Reason: fmt.Sprintf("is %d bytes, the limit is %d; split the document", n, MaxDocumentBytes)}
	}
	return nil
}

// Sentences iterates the non-empty lines of Text, each one sentence.
func (d *Document) Sentences() func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for line := range strings.Lines(d.Text) {
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

// DecodeDocument parses and validates one message value. Unknown fields are
// an error so that a typo in a foreign producer surfaces at once.
func DecodeDocument(b []byte) (Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return d, &FieldError{Field: te.Field, Reason: fmt.Sprintf("has JSON type %s, want %s", te.Value, te.Type)}
		}
		return d, fmt.Errorf("document is not valid JSON: %w", err)
	}
	if dec.More() {
		return d, errors.New("document has trailing data after the JSON object")
	}
	return d, d.Validate()
}
