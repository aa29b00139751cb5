package wordpiece

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Specials are the ids of BERT's special tokens; -1 where the vocabulary
// lacks one.
type Specials struct{ PAD, UNK, CLS, SEP, MASK int32 }

// Tokenizer turns text into WordPiece ids. It is immutable after Load and
// safe for concurrent use.
type Tokenizer struct {
	tokens []string         // id -> token ("" for ids no token uses)
	ids    map[string]int32 // token -> id, the model vocab plus added tokens
	// head holds the pieces a word may start with, cont the continuation
	// pieces with their "##" prefix removed, so the hot loop looks up
	// sub-slices of the word without building "##"+piece strings.
	head, cont map[string]int32
	// headTrie and contTrie hold the same pieces for the hot path.
	headTrie, contTrie *trie
	unk                int32
	maxChars           int
	prefix             string

	cleanText, chinese, stripAccents, lowercase bool

	added      []addedToken // matched in raw text, longest first
	addedFirst [256]bool    // first bytes of added tokens
	addedOne   int          // the only first byte of all added tokens, or -1

	punct       [128]int32 // id of each ASCII character as a one-character word, or unk
	asciiClass  [128]uint8 // class of a raw ASCII byte under BertNormalizer + BertPreTokenizer
	pretokASCII [128]uint8 // class of a normalized ASCII character under BertPreTokenizer
	asciiLower  [128]byte
	runes       []uint32 // see runeTableSize
	sha         string
	spec        Specials
}

type addedToken struct {
	content string
	id      int32
}

// bertSpecials are the tokens HuggingFace's BERT tokenizer.json registers as
// special AddedTokens (normalized: false), in the order of Specials.
var bertSpecials = [...]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// Load reads a WordPiece vocabulary: a BERT vocab.txt (one token per line,
// the line number is the id) or a HuggingFace tokenizer.json whose model is
// WordPiece. The format is recognised by content, not by file name.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: reading vocabulary: %w", err)
	}
	var t *Tokenizer
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		t, err = fromTokenizerJSON(trimmed)
	} else {
		t, err = FromVocab(data)
	}
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %s: %w", path, err)
	}
	return t, nil
}

// FromVocab builds a tokenizer from the bytes of a vocab.txt, configured as
// HuggingFace's bert-base-uncased tokenizer.json (lowercase, strip accents,
// specials matched in raw text).
func FromVocab(data []byte) (*Tokenizer, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("vocab.txt is not valid UTF-8; pass a vocab.txt (one token per line) or a tokenizer.json")
	}
	var tokens []string
	for rest := string(data); len(rest) > 0; {
		line, tail, _ := strings.Cut(rest, "\n")
		rest = tail
		// HuggingFace trims trailing whitespace (including "\r") of each line.
		tokens = append(tokens, strings.TrimRightFunc(line, unicode.IsSpace))
	}
	if len(tokens) == 0 {
		return nil, errors.New("vocab.txt is empty")
	}
	vocab := make(map[string]int32, len(tokens))
	for i, tok := range tokens {
		vocab[tok] = int32(i) // a repeated token keeps its last id, as in HuggingFace
	}
	unk, ok := vocab["[UNK]"]
	if !ok {
		return nil, errors.New("vocab.txt has no [UNK] token; WordPiece needs it for words it cannot split")
	}
	var added []addedToken
	for _, s := range bertSpecials {
		if id, ok := vocab[s]; ok {
			added = append(added, addedToken{s, id})
		}
	}
	sum := sha256.Sum256(data)
	return build(config{
		vocab: vocab, added: added, unk: unk, prefix: "##", maxChars: 100,
		cleanText: true, chinese: true, stripAccents: true, lowercase: true,
		sha: hex.EncodeToString(sum[:]),
	})
}

type config struct {
	vocab                                       map[string]int32
	added                                       []addedToken
	unk                                         int32
	prefix                                      string
	maxChars                                    int
	cleanText, chinese, stripAccents, lowercase bool
	sha                                         string
}

func build(c config) (*Tokenizer, error) {
	if c.prefix == "" {
		return nil, errors.New("empty continuing_subword_prefix is not supported")
	}
	t := &Tokenizer{
		ids: make(map[string]int32, len(c.vocab)+len(c.added)), head: c.vocab,
		cont: make(map[string]int32, len(c.vocab)/4), unk: c.unk, maxChars: c.maxChars, prefix: c.prefix,
		cleanText: c.cleanText, chinese: c.chinese, stripAccents: c.stripAccents, lowercase: c.lowercase,
		addedOne: -1, sha: c.sha,
	}
	size := 0
	note := func(tok string, id int32) error {
		if id < 0 {
			return fmt.Errorf("token %q has negative id %d", tok, id)
		}
		if int(id) >= size {
			size = int(id) + 1
		}
		return nil
	}
	for tok, id := range c.vocab {
		if err := note(tok, id); err != nil {
			return nil, err
		}
		t.ids[tok] = id
		if rest, ok := strings.CutPrefix(tok, c.prefix); ok && rest != "" {
			t.cont[rest] = id
		}
	}
	for _, a := range c.added {
		if a.content == "" {
			return nil, errors.New("added token with empty content")
		}
		if err := note(a.content, a.id); err != nil {
			return nil, err
		}
		t.ids[a.content] = a.id
	}
	if size > 1<<31-1 {
		return nil, fmt.Errorf("vocabulary too large: %d ids", size)
	}
	t.tokens = make([]string, size)
	for tok, id := range t.ids {
		t.tokens[id] = tok
	}
	// Several tokens may share an id in a tokenizer.json; Token(id) returns
	// the model's own token, as HuggingFace's id_to_token does.
	for tok, id := range c.vocab {
		t.tokens[id] = tok
	}
	for _, a := range c.added {
		t.tokens[a.id] = a.content
	}

	t.headTrie, t.contTrie = newTrie(t.head), newTrie(t.cont)

	t.added = append([]addedToken(nil), c.added...)
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	for i, a := range t.added {
		b := a.content[0]
		t.addedFirst[b] = true
		switch {
		case i == 0:
			t.addedOne = int(b)
		case t.addedOne != int(b):
			t.addedOne = -2
		}
	}
	if t.addedOne == -2 {
		t.addedOne = -1
	}

	for b := range 128 {
		t.punct[b] = t.unk
		if id, ok := c.vocab[string(rune(b))]; ok {
			t.punct[b] = id
		}
	}
	for b := range rune(128) {
		t.asciiLower[b] = byte(b)
		if t.lowercase {
			t.asciiLower[b] = byte(unicode.ToLower(b))
		}
		switch {
		case isSpace(b):
			t.pretokASCII[b] = aSpace
		case isPunct(b):
			t.pretokASCII[b] = aPunct
		}
		t.asciiClass[b] = t.pretokASCII[b]
		if t.cleanText && isOther(b) || t.cleanText && b == 0 {
			t.asciiClass[b] = aDrop
		}
	}
	t.runes = buildRuneTable(t)
	t.spec = Specials{-1, -1, -1, -1, -1}
	for i, s := range bertSpecials {
		id, ok := t.ids[s]
		if !ok {
			continue
		}
		switch i {
		case 0:
			t.spec.PAD = id
		case 1:
			t.spec.UNK = id
		case 2:
			t.spec.CLS = id
		case 3:
			t.spec.SEP = id
		case 4:
			t.spec.MASK = id
		}
	}
	if t.sha == "" {
		// A tokenizer.json hashes as the vocab.txt it corresponds to, so the
		// same vocabulary has one fingerprint whichever file it came from.
		h := sha256.New()
		for _, tok := range t.tokens {
			h.Write([]byte(tok))
			h.Write([]byte{'\n'})
		}
		t.sha = hex.EncodeToString(h.Sum(nil))
	}
	return t, nil
}

// tokenizerJSON is the part of HuggingFace's tokenizer.json we understand.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model *struct {
		Type                    string          `json:"type"`
		UnkToken                string          `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
		Vocab                   json.RawMessage `json:"vocab"`
	} `json:"model"`
}

func fromTokenizerJSON(data []byte) (*Tokenizer, error) {
	var j tokenizerJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if j.Model == nil {
		return nil, errors.New(`tokenizer.json has no "model"`)
	}
	if j.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("tokenizer.json model is %q, not WordPiece; only BERT-style WordPiece tokenizers are supported", j.Model.Type)
	}
	if j.Normalizer == nil || j.Normalizer.Type != "BertNormalizer" {
		return nil, fmt.Errorf("tokenizer.json normalizer is %s; only BertNormalizer is supported", describe(j.Normalizer != nil, func() string { return j.Normalizer.Type }))
	}
	if j.PreTokenizer == nil || j.PreTokenizer.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("tokenizer.json pre_tokenizer is %s; only BertPreTokenizer is supported", describe(j.PreTokenizer != nil, func() string { return j.PreTokenizer.Type }))
	}
	opt := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	n := j.Normalizer
	lower := opt(n.Lowercase, true)
	c := config{
		prefix: "##", maxChars: 100,
		cleanText: opt(n.CleanText, true), chinese: opt(n.HandleChineseChars, true),
		stripAccents: opt(n.StripAccents, lower), // null follows lowercase, as in HuggingFace
		lowercase:    lower,
	}
	if p := j.Model.ContinuingSubwordPrefix; p != nil {
		c.prefix = *p
	}
	if m := j.Model.MaxInputCharsPerWord; m != nil {
		c.maxChars = *m
	}
	unkTok := j.Model.UnkToken
	if unkTok == "" {
		unkTok = "[UNK]"
	}
	if err := json.Unmarshal(j.Model.Vocab, &c.vocab); err != nil {
		return nil, fmt.Errorf("tokenizer.json: WordPiece vocab: %w", err)
	}
	unk, ok := c.vocab[unkTok]
	if !ok {
		return nil, fmt.Errorf("tokenizer.json: unk_token %q is not in the vocab", unkTok)
	}
	c.unk = unk
	for _, a := range j.AddedTokens {
		if a.Normalized || a.SingleWord || a.LStrip || a.RStrip {
			return nil, fmt.Errorf("tokenizer.json: added token %q uses normalized/single_word/lstrip/rstrip, which this tokenizer does not implement", a.Content)
		}
		c.added = append(c.added, addedToken{a.Content, a.ID})
	}
	return build(c)
}

func describe(present bool, typ func() string) string {
	if !present {
		return "missing"
	}
	return fmt.Sprintf("%q", typ())
}

// ID returns the id of a token (a model token or an added token).
func (t *Tokenizer) ID(tok string) (int32, bool) {
	id, ok := t.ids[tok]
	return id, ok
}

// Token returns the token of an id, or "" if no token has it.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Size is the number of ids: one more than the largest id.
func (t *Tokenizer) Size() int { return len(t.tokens) }

// SHA256 is the hex sha256 of the vocabulary as loaded: the bytes of a
// vocab.txt, or for a tokenizer.json the tokens in id order each followed by
// "\n" (what the same vocabulary written as vocab.txt hashes to).
func (t *Tokenizer) SHA256() string { return t.sha }

// Specials returns the ids of [PAD], [UNK], [CLS], [SEP] and [MASK].
func (t *Tokenizer) Specials() Specials { return t.spec }
