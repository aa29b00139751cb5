package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/electra-go/electra/schemas"
)

var docSeeds = []string{
	`{"id":"a","source":"books","text":"One.\nTwo."}`,
	`{"id":"a","source":"books","text":"\nOne.\r\n\r\n\r\rTwo.\u000a\n x \n"}`,
	`{"id":"a","source":"books","text":"One.\nTwo.","text":"Three.\nFour.\n"}`,
	` { "id" : "a" , "source" : "books" , "title":"T", "url":"http://x/y", "lang":"en", "text" : "x" } `,
	`{"id":"a","source":"books","text":"tab\tq\"uote\\ \/ \u00e9 \u4e2d \b\f\r"}`,
	`{"id":"a","source":"books","text":"é中😀"}`,
	`{"id":"a","source":"books","text":"\ud83d\ude00"}`,
	`{"id":"a","source":"books","text":"\ud83d"}`,
	`{"ID":"a","source":"books","text":"x"}`,
	`{"id":"a","source":"books","text":"x","extra":1}`,
	`{"id":"a","source":"books","text":null}`,
	`{"id":"a","source":"books","text":"x"} trailing`,
	`{"id":"a","id":"b","source":"books","text":"x"}`,
	"{\"id\":\"a\",\"source\":\"books\",\"text\":\"\xff\"}",
	`{"id":"a","source":"books","text":""}`,
	`{"id":"a","source":"books","text":" \n\t\r\n\u000a\u00a0"}`,
	`{"id":"a","source":"books","text":"x\u000ay\u000Az"}`,
	`{"id":"a","source":"books","text":"é\"\nplain line\nq\\\n\t\r"}`,
	`{"text":"One.\nTwo.","id":"a","source":"books","title":"T\u00e9"}`,
	"{\"id\":\"a\",\"source\":\"books\",\"text\":\"\xc3\\\"x\"}",
	`{}`,
	`[]`,
	``,
	`{"id":"a",}`,
}

func TestDecodeDocumentMatchesContract(t *testing.T) {
	for _, s := range docSeeds {
		checkDecodeAgrees(t, []byte(s))
	}
	var scratch docScratch
	if _, ok := fastDocument([]byte(docSeeds[0]), &scratch); !ok {
		t.Fatal("the common shape did not take the fast path")
	}
	if _, ok := fastDocument([]byte(docSeeds[2]), &scratch); !ok {
		t.Fatal("escapes did not take the fast path")
	}
	// Lines without escapes are read where they lie, not copied.
	b := []byte(`{"id":"a","source":"books","text":"One.\nTwo \"2\".\nThree."}`)
	if _, err := decodeDocument(b, &scratch); err != nil {
		t.Fatal(err)
	}
	within := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= uintptr(unsafe.Pointer(&b[0])) && p < uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
	}
	if len(scratch.sents) != 3 || !within(scratch.sents[0]) || within(scratch.sents[1]) || !within(scratch.sents[2]) {
		t.Fatalf("sentences %q: want the first and last in the message, the second (escaped) unescaped", scratch.sents)
	}
}

// checkDecodeAgrees: whenever the fast path accepts b, the contract's own
// decoder must produce the same document but its text, the same verdict,
// and the same sentences and text length. The scratch starts with
// leftovers of an earlier document, as in the stage.
func checkDecodeAgrees(t *testing.T, b []byte) {
	t.Helper()
	scratch := docScratch{text: []byte("leftover text of the document before"), sents: []string{"left", "over"}, textLen: 3}
	got, gerr := decodeDocument(b, &scratch)
	want, werr := schemas.DecodeDocument(b)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%q: fast err %v, contract err %v", b, gerr, werr)
	}
	if gerr != nil && werr != nil && gerr.Error() != werr.Error() {
		t.Fatalf("%q: fast err %q, contract err %q", b, gerr, werr)
	}
	if werr != nil && !isFieldError(werr) {
		return // not JSON of a document: nothing decoded to compare
	}
	if got.Text != "" {
		t.Fatalf("%q: decodeDocument left Text %q", b, got.Text)
	}
	text := want.Text
	want.Text = ""
	if got != want {
		t.Fatalf("%q:\nfast     %+v\ncontract %+v", b, got, want)
	}
	if scratch.textLen != len(text) {
		t.Fatalf("%q: text length %d, contract's %d", b, scratch.textLen, len(text))
	}
	want.Text = text
	if w := slices.Collect(want.Sentences()); !slices.Equal(scratch.sents, w) {
		t.Fatalf("%q: sentences %q, contract's %q", b, scratch.sents, w)
	}
}

func isFieldError(err error) bool {
	var fe *schemas.FieldError
	return errors.As(err, &fe)
}

func FuzzDecodeDocument(f *testing.F) {
	for _, s := range docSeeds {
		f.Add([]byte(s))
	}
	d, _ := json.Marshal(schemas.Document{ID: "x", Source: "wikipedia", Title: "<&>", Text: "a\u2028b\x01"})
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeAgrees(t, b) })
}

// jsonStopBytes is jsonStop one byte at a time, the definition the fast
// scans must agree with.
func jsonStopBytes(s []byte) (int, bool) {
	high := false
	for i, c := range s {
		if c == '"' || c == '\\' || c < 0x20 {
			return i, high
		}
		high = high || c >= 0x80
	}
	return len(s), high
}

// TestJSONStop places each kind of stop byte, and a high byte before or
// after it, at every position across the 8-byte words and 32-byte blocks
// of the scans, in inputs whose lengths end inside and on their edges,
// with the assembly scan (where the CPU has it) and without.
func TestJSONStop(t *testing.T) {
	defer func(h bool) { hasAVX2 = h }(hasAVX2)
	for _, avx := range []bool{false, hasAVX2} {
		hasAVX2 = avx
		t.Run(fmt.Sprint("avx2=", avx), testJSONStop)
	}
}

func testJSONStop(t *testing.T) {
	stops := []byte{'"', '\\', 0x00, '\n', 0x1f}
	plain := []byte{'a', ' ', 0x20, 0x7f, '/', 'u'}
	for n := 0; n <= 100; n++ {
		for at := -1; at < n; at++ { // -1: no stop byte
			for k, stop := range stops {
				for _, hiAt := range []int{-1, 0, at - 1, at + 1, n - 1} {
					s := make([]byte, n)
					for i := range s {
						s[i] = plain[(i+k)%len(plain)]
					}
					if hiAt >= 0 && hiAt < n {
						s[hiAt] = 0x80 | byte(hiAt)
					}
					if at >= 0 {
						s[at] = stop
					}
					gi, gh := jsonStop(s)
					wi, wh := jsonStopBytes(s)
					if gi != wi || gh != wh {
						t.Fatalf("%q: jsonStop = %d, %v; want %d, %v", s, gi, gh, wi, wh)
					}
					if gi, gh = jsonStopWords(s); gi != wi || gh != wh {
						t.Fatalf("%q: jsonStopWords = %d, %v; want %d, %v", s, gi, gh, wi, wh)
					}
				}
			}
		}
	}
}

func FuzzJSONStop(f *testing.F) {
	f.Add([]byte(`plain text then a "quote`))
	f.Add([]byte("é and more than thirty-two bytes of text before the \\n escape"))
	f.Fuzz(func(t *testing.T, s []byte) {
		gi, gh := jsonStop(s)
		wi, wh := jsonStopBytes(s)
		if gi != wi || gh != wh {
			t.Fatalf("%q: jsonStop = %d, %v; want %d, %v", s, gi, gh, wi, wh)
		}
	})
}
