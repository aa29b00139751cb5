// The tokenizer.json HuggingFace's BertWordPieceTokenizer layout gives a BERT
// vocab.txt: BertNormalizer (clean_text, handle_chinese_chars, strip_accents
// null = follow lowercase, lowercase), BertPreTokenizer, WordPiece with "##"
// and 100 characters per word, the specials as non-normalized AddedTokens.
'use strict';
const fs = require('fs');

function tokenizerJSON(vocabFile) {
  const tokens = fs.readFileSync(vocabFile, 'utf8').split('\n');
  if (tokens[tokens.length - 1] === '') tokens.pop();
  const vocab = {};
  tokens.forEach((t, i) => { vocab[t.trimEnd()] = i; });
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter(s => s in vocab);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(s => ({ id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', vocab['[SEP]']], cls: ['[CLS]', vocab['[CLS]']] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

module.exports = { tokenizerJSON };
