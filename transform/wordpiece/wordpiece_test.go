package wordpiece

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func tokens(tk *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tk.Token(id)
	}
	return out
}

func TestEncode(t *testing.T) {
	tk := bertUncased(t)
	for _, tc := range []struct {
		in   string
		want string // tokens joined by spaces
	}{
		{"", ""},
		{"   \t\r\n ", ""},
		{"unaffable", "una ##ffa ##ble"},
		{"Hello, World!", "hello , world !"},
		{"[CLS] hi [SEP]", "[CLS] hi [SEP]"},
		{"[cls]", "[ cl ##s ]"},
		{"a[SEP]b", "a [SEP] b"},
		{"[[MASK]]", "[ [MASK] ]"},
		{"Héllo naïve café", "hello naive cafe"},
		{"İ", "i"},
		{"中文", "中 文"},
		{"non\u00a0breaking", "non breaking"},
		{"zero\u200bwidth", "zero ##wi ##dt ##h"},
		{"ctrl\x01\x7fchars", "ct ##rl ##cha ##rs"},
		{"bad\xffutf8", "bad ##ut ##f ##8"},
		{strings.Repeat("a", 100), "[UNK]"},
		{strings.Repeat("a", 101), "[UNK]"},
		{"x" + strings.Repeat("é", 100), "[UNK]"},
		{"don't", "don ' t"},
		{"𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "[UNK]"},
	} {
		got := strings.Join(tokens(tk, tk.Encode(nil, tc.in)), " ")
		if tc.in == strings.Repeat("a", 100) {
			// 100 characters is still a word WordPiece splits; 101 is not.
			if got == "[UNK]" || !strings.HasPrefix(got, "aaa") {
				t.Errorf("Encode(100 x a) = %q, want pieces of a", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("Encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if ref := strings.Join(tokens(tk, refEncode(tk, tc.in)), " "); ref != got {
			t.Errorf("Encode(%q) = %q, reference %q", tc.in, got, ref)
		}
	}
}

func TestEncodeAppends(t *testing.T) {
	tk := bertUncased(t)
	dst := []int32{7, 8}
	got := tk.Encode(dst, "the whale")
	if !slices.Equal(got[:2], []int32{7, 8}) || len(got) != 4 {
		t.Fatalf("Encode must append: got %v", got)
	}
}

func TestEncodeNoAllocs(t *testing.T) {
	tk := bertUncased(t)
	text := "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, " +
		"naïve Ærøskøbing 中文 [MASK] unaffable " + strings.Repeat("z", 120)
	dst := make([]int32, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { dst = tk.Encode(dst[:0], text) }); n != 0 {
		t.Fatalf("Encode allocates %.1f times per call with room in dst, want 0", n)
	}
}

func TestEncodeBatch(t *testing.T) {
	tk := bertUncased(t)
	lines := gunzipLines(t, "lines.txt.gz")[:5000]
	for _, workers := range []int{1, 3, 0} {
		got, err := tk.EncodeBatch(context.Background(), lines, workers)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(lines) {
			t.Fatalf("workers=%d: %d results for %d texts", workers, len(got), len(lines))
		}
		for i, line := range lines {
			if want := tk.Encode(nil, line); !slices.Equal(got[i], want) {
				t.Fatalf("workers=%d line %d: batch %v, Encode %v", workers, i, got[i], want)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tk.EncodeBatch(ctx, lines, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestDecode(t *testing.T) {
	tk := bertUncased(t)
	for _, tc := range []struct{ in, want string }{
		{"unaffable whales", "unaffable whales"},
		{"[CLS] Hello, world! [SEP]", "[CLS] hello , world ! [SEP]"},
		{"", ""},
	} {
		if got := tk.Decode(tk.Encode(nil, tc.in)); got != tc.want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestVocabAccessors(t *testing.T) {
	tk := bertUncased(t)
	if tk.Size() != 30522 {
		t.Errorf("Size = %d, want 30522", tk.Size())
	}
	if got, want := tk.SHA256(), "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"; got != want {
		t.Errorf("SHA256 = %s, want the sha256 of the vocab file %s", got, want)
	}
	sp := tk.Specials()
	for name, id := range map[string]int32{"[PAD]": sp.PAD, "[UNK]": sp.UNK, "[CLS]": sp.CLS, "[SEP]": sp.SEP, "[MASK]": sp.MASK} {
		if tk.Token(id) != name {
			t.Errorf("Specials: %s has id %d, whose token is %q", name, id, tk.Token(id))
		}
		if got, ok := tk.ID(name); !ok || got != id {
			t.Errorf("ID(%s) = %d, %v; want %d", name, got, ok, id)
		}
	}
	if _, ok := tk.ID("no-such-token-xyz"); ok {
		t.Error("ID of an unknown token reported ok")
	}
	if tk.Token(-1) != "" || tk.Token(int32(tk.Size())) != "" {
		t.Error("Token out of range must be empty")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"bpe.json", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"normalizer":null,"pre_tokenizer":null}`, "not WordPiece"},
		{"unigram.json", `{"model":{"type":"Unigram","vocab":[["a",0]]}}`, "not WordPiece"},
		{"nomodel.json", `{"version":"1.0"}`, `no "model"`},
		{"norm.json", `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}},"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"BertPreTokenizer"}}`, "only BertNormalizer"},
		{"unk.json", `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"}}`, "unk_token"},
		{"nounk.txt", "[PAD]\na\nb\n", "no [UNK]"},
		{"empty.txt", "", "empty"},
		{"latin1.txt", "[UNK]\ncaf\xe9\n", "not valid UTF-8"},
	} {
		_, err := Load(write(tc.name, tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("Load(%s) error = %v, want one naming the file and saying %q", tc.name, err, tc.wantErr)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

// TestSmallVocab: a tiny vocab.txt exercises the longest-match loop, the
// continuation table and [UNK] for uncoverable words.
func TestSmallVocab(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(p, []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\nunaff\n##aff\n##able\n##a\n##b\nab\n,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"unaffable", "unaff ##able"},
		{"unable", "un ##able"},
		{"abab", "ab ##a ##b"},
		{"unx", "[UNK]"},
		{"ab,ab", "ab , ab"},
		{"ab;", "ab [UNK]"},
	} {
		if got := strings.Join(tokens(tk, tk.Encode(nil, tc.in)), " "); got != tc.want {
			t.Errorf("Encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if sp := tk.Specials(); sp != (Specials{0, 1, 2, 3, 4}) {
		t.Errorf("Specials = %+v", sp)
	}
}

func FuzzTokenize(f *testing.F) {
	tk := bertUncased(f)
	cased, err := build(config{
		vocab: tk.head, added: tk.added, unk: tk.unk, prefix: "##", maxChars: 100,
		cleanText: false, chinese: false, stripAccents: false, lowercase: false,
	})
	if err != nil {
		f.Fatal(err)
	}
	// Whole words (no 100-character cut) from both configurations, to
	// compare normalization itself: with the BERT vocab many differences
	// would hide behind the same [UNK].
	var wordTks []*Tokenizer
	for _, k := range []*Tokenizer{tk, cased} {
		w, err := build(config{
			vocab: k.head, added: k.added, unk: k.unk, prefix: "##", maxChars: 1 << 30,
			cleanText: k.cleanText, chinese: k.chinese, stripAccents: k.stripAccents, lowercase: k.lowercase,
		})
		if err != nil {
			f.Fatal(err)
		}
		wordTks = append(wordTks, w)
	}
	for _, s := range []string{"", "Hello, world!", "[CLS] naïve İ 中文 x\u0301\u0316", "a\u1B44\u1B34b", "\u302e\u0300\u302f",
		"a\u302e\x01\u1B44b", "a\u302e\u200b\u1B44b", "a\u302e각\u1B44", "a\u302e\u1B44[SEP]\u1B44\u302e",
		strings.Repeat("é", 101), "\xff\xfe[SEP]\x00", "ｆｕｌｌ　ｗｉｄｔｈ", "👨‍👩‍👧 🥰", "\u0130\u0131"} {
		f.Add(s)
	}
	for i, l := range gunzipLines(f, "lines.txt.gz") {
		if i%997 == 0 {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []*Tokenizer{tk, cased} {
			if k == cased && !utf8.ValidString(s) {
				continue // without clean_text, U+FFFD is kept, and bad bytes have no one spelling of it
			}
			got := k.Encode(nil, s)
			for _, id := range got {
				if id < 0 || int(id) >= k.Size() {
					t.Fatalf("%+q: id %d out of range [0,%d)", s, id, k.Size())
				}
			}
			if want := refEncode(k, s); !slices.Equal(got, want) {
				t.Fatalf("%+q (lowercase=%v): encoder %v, reference %v", s, k.lowercase, got, want)
			}
		}
		for _, k := range wordTks {
			if !k.cleanText && !utf8.ValidString(s) {
				continue
			}
			var got []string
			e := encoder{t: k, words: func(w []byte) { got = append(got, string(w)) }}
			e.run(s)
			if want := refWords(k, s); !slices.Equal(got, want) {
				t.Fatalf("%+q (lowercase=%v): encoder words %+q, reference %+q", s, k.lowercase, got, want)
			}
		}
	})
}

// TestTokenizerJSONOptions: a cased tokenizer.json with a longer word limit
// and its own continuation prefix (words then outgrow the stack buffer).
func TestTokenizerJSONOptions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	js := `{"added_tokens":[{"id":0,"content":"[UNK]","special":true}],
	"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":false},
	"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"@@","max_input_chars_per_word":150,
	"vocab":{"[UNK]":0,"a":1,"@@a":2,"é":3,"@@é":4,"A":5}}}`
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []int32
	}{
		{strings.Repeat("a", 150), append([]int32{1}, slices.Repeat([]int32{2}, 149)...)},
		{strings.Repeat("a", 151), []int32{0}},
		{strings.Repeat("é", 150), append([]int32{3}, slices.Repeat([]int32{4}, 149)...)},
		{"Aa", []int32{5, 2}},
		{"é", []int32{3}}, // cased: no accent stripping
		{"[UNK]a", []int32{0, 1}},
	} {
		got := tk.Encode(nil, tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%.20q…) = %v, want %v", tc.in, got, tc.want)
		}
		if ref := refEncode(tk, tc.in); !slices.Equal(ref, tc.want) {
			t.Errorf("reference(%.20q…) = %v, want %v", tc.in, ref, tc.want)
		}
	}
}
