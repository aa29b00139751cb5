package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDocumentValidate(t *testing.T) {
	good := Document{ID: "wikipedia:enwiki:12", Source: "wikipedia", Title: "Anarchism", Lang: "en", Text: "One sentence.\nAnother one."}
	tests := []struct {
		name  string
		edit  func(*Document)
		field string // "" = valid
		utf8  bool   // the error is invalid UTF-8, which ValidateText trusts the decoder to have refused
	}{
		{"valid", func(*Document) {}, "", false},
		{"custom source", func(d *Document) { d.Source = "my-corpus_2.v1" }, "", false},
		{"empty id", func(d *Document) { d.ID = " " }, "id", false},
		{"long id", func(d *Document) { d.ID = strings.Repeat("x", 1025) }, "id", false},
		{"empty source", func(d *Document) { d.Source = "" }, "source", false},
		{"upper-case source", func(d *Document) { d.Source = "Wikipedia" }, "source", false},
		{"invalid utf-8 title", func(d *Document) { d.Title = "caf\xe9" }, "title", true},
		{"invalid utf-8 text", func(d *Document) { d.Text = "a\xffb" }, "text", true},
		{"blank text", func(d *Document) { d.Text = "\n\n " }, "text", false},
		{"huge text", func(d *Document) { d.Text = strings.Repeat("a", MaxDocumentBytes+1) }, "text", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.edit(&d)
			err := d.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want a FieldError naming %q", err, tt.field)
			}
			if !strings.Contains(err.Error(), `"`+tt.field+`"`) {
				t.Errorf("message %q does not name the field", err)
			}
		})
		// ValidateText is for strings a decoder has checked already, the
		// text given by its length and blankness: the same verdict,
		// except that it trusts their UTF-8.
		t.Run(tt.name+"/decoded", func(t *testing.T) {
			d := good
			tt.edit(&d)
			want := d.Validate()
			if tt.utf8 {
				want = nil
			}
			n, blank := len(d.Text), strings.TrimSpace(d.Text) == ""
			d.Text = ""
			err := d.ValidateText(n, blank)
			if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
				t.Fatalf("ValidateText() = %v, want %v", err, want)
			}
		})
	}
}

func TestDecodeDocument(t *testing.T) {
	tests := []struct {
		name, in, field string
		wantErr         bool
	}{
		{"valid", `{"id":"a","source":"books","text":"Hi."}`, "", false},
		{"missing text", `{"id":"a","source":"books"}`, "text", true},
		{"wrong type", `{"id":7,"source":"books","text":"Hi."}`, "id", true},
		{"unknown field", `{"id":"a","source":"books","text":"Hi.","txt":"typo"}`, "", true},
		{"trailing data", `{"id":"a","source":"books","text":"Hi."} {}`, "", true},
		{"not json", `id=a`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeDocument([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var fe *FieldError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
				t.Fatalf("err = %v, want one naming %q", err, tt.field)
			}
		})
	}
	d, err := DecodeDocument([]byte(`{"id":"x","source":"books","title":"T","url":"u","lang":"en","text":"A.\nB.\n\nC."}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(d.Sentences()); !reflect.DeepEqual(got, []string{"A.", "B.", "C."}) {
		t.Errorf("Sentences = %q", got)
	}
}

// TestJSONSchemaMatchesGoType keeps the published JSON Schema and the Go
// type in step: same properties, same required fields, no extras allowed.
func TestJSONSchemaMatchesGoType(t *testing.T) {
	b, err := os.ReadFile("electra.doc.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Title                string                     `json:"title"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Title != DocSchemaV1 {
		t.Errorf("schema title %q, want %q", s.Title, DocSchemaV1)
	}
	var tags, required []string
	rt := reflect.TypeFor[Document]()
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		tags = append(tags, name)
		if opts != "omitempty" {
			required = append(required, name)
		}
	}
	var props []string
	for p := range s.Properties {
		props = append(props, p)
	}
	slices.Sort(tags)
	slices.Sort(props)
	slices.Sort(required)
	slices.Sort(s.Required)
	if !slices.Equal(tags, props) {
		t.Errorf("schema properties %v, Go fields %v", props, tags)
	}
	if !slices.Equal(required, s.Required) {
		t.Errorf("schema requires %v, Go always emits %v", s.Required, required)
	}
	if s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Error("schema must set additionalProperties false, as DecodeDocument rejects unknown fields")
	}
}

func TestExcerpt(t *testing.T) {
	if got := Excerpt([]byte("ok\xff")); got != "ok\uFFFD" {
		t.Errorf("Excerpt = %q", got)
	}
	if got := Excerpt([]byte(strings.Repeat("a", 5000))); len(got) != DeadLetterExcerptBytes {
		t.Errorf("Excerpt length %d", len(got))
	}
}

func FuzzDecodeDocument(f *testing.F) {
	f.Add([]byte(`{"id":"a","source":"books","text":"Hi."}`))
	f.Add([]byte(`{"id":"","source":"X","text":""}`))
	f.Add([]byte(`{"id":"a","source":"books","text":"\ud800"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDocument(b)
		if err != nil {
			return
		}
		// Whatever decodes must validate and survive a round trip.
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded document does not validate: %v", err)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := DecodeDocument(out)
		if err != nil || d2 != d {
			t.Fatalf("round trip: %v, %+v != %+v", err, d2, d)
		}
	})
}
