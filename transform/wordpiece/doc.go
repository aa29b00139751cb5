// Package wordpiece is a pure-Go BERT tokenizer (BasicTokenizer + WordPiece)
// that produces the same ids as HuggingFace's Rust `tokenizers` with the
// standard bert tokenizer.json: BertNormalizer, BertPreTokenizer, WordPiece
// with "##" continuations and at most 100 characters per word.
//
// The pipeline, per input text:
//
//  1. Added tokens are cut out of the raw text first. For a vocab.txt these
//     are the specials [PAD], [UNK], [CLS], [SEP] and [MASK] that the vocab
//     contains; for a tokenizer.json, its added_tokens. They are matched
//     case-sensitively and before normalization, exactly as HuggingFace
//     matches non-normalized AddedTokens: "[CLS]" in raw text becomes the
//     [CLS] id, while "[cls]" or "[ CLS ]" are ordinary text
//     ("[", "cl", "##s", "]"). Text on either side is tokenized on its own,
//     so "a[SEP]b" is three tokens.
//  2. Normalization (BertNormalizer): control and format characters,
//     unassigned code points, U+0000 and U+FFFD are dropped (so are invalid
//     UTF-8 bytes, which a UTF-8 decoder would have turned into U+FFFD);
//     Unicode whitespace including NBSP becomes a space; CJK ideographs are
//     set apart as words of their own; with accent stripping, text is
//     decomposed (NFD) and non-spacing marks are dropped; then lowercased
//     with full Unicode case mapping ("İ" becomes "i" + U+0307).
//  3. Pre-tokenization (BertPreTokenizer): split on whitespace; every ASCII
//     or Unicode punctuation character is a word of its own.
//  4. WordPiece: greedy longest-match-first with "##" continuations; a word
//     that cannot be covered, or is longer than 100 characters, becomes one
//     [UNK].
//
// HuggingFace classifies characters (other, punctuation, non-spacing mark)
// with tables from an older Unicode version than Go's; unicode.go holds the
// difference, so characters assigned since then are dropped as HuggingFace
// drops them.
//
// Parity is checked against HuggingFace's own Rust tokenizer (npm
// `tokenizers`, scripts/hf/golden.js): 45,915 lines of books, speeches, raw
// mail, Go source and crafted multilingual text give identical ids, with no
// exceptions, and every code point normalizes and pre-tokenizes as it does
// there (TestGolden, TestCodePoints).
//
// Encode allocates nothing per token; a Tokenizer is immutable after Load
// and safe for concurrent use. WordPiece lookups walk a double-array trie.
//
// Trainer learns a vocabulary as HuggingFace's WordPieceTrainer does (BPE
// merges over the pre-tokenized words, "##" continuations, specials first);
// unlike HuggingFace, whose ids for equally frequent pairs depend on hash
// map order, it is deterministic.
package wordpiece
