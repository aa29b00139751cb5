// HuggingFace's Rust tokenizer (npm `tokenizers`) on a text file, for
// scripts/bench.d/tokenizer.sh: one input per line, encodeBatch over large
// batches so the per-call JS overhead is amortised. Only encodeBatch is
// timed (not reading the file, loading the vocab or formatting ids). Set RAYON_NUM_THREADS=1
// for one core.
//
//   node bench.js VOCAB INPUT [IDS_OUT]
//
// Prints one line "hf <bytes> <lines> <tokens> <seconds>"; with IDS_OUT also
// writes the ids in `electra tokenize` format so the run can check that both
// produced identical ids.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const hf = require('tokenizers');
const { tokenizerJSON } = require('./bert');

async function main() {
  const [vocab, input, idsOut] = process.argv.slice(2);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-bench-'));
  const tj = path.join(tmp, 'tokenizer.json');
  fs.writeFileSync(tj, JSON.stringify(tokenizerJSON(vocab)));
  const tok = hf.Tokenizer.fromFile(tj);
  fs.rmSync(tmp, { recursive: true, force: true });

  const buf = fs.readFileSync(input);
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const batch = 2048;
  const out = idsOut ? [] : null;
  let tokens = 0;
  let ns = 0n;
  for (let i = 0; i < lines.length; i += batch) {
    const part = lines.slice(i, i + batch);
    const t0 = process.hrtime.bigint();
    const encs = await tok.encodeBatch(part, { addSpecialTokens: false });
    ns += process.hrtime.bigint() - t0;
    for (const e of encs) {
      const ids = e.getIds();
      tokens += ids.length;
      if (out) out.push(ids.join(' '));
    }
  }
  const secs = Number(ns) / 1e9;
  if (out) fs.writeFileSync(idsOut, out.length ? out.join('\n') + '\n' : '');
  console.log(`hf ${buf.length} ${lines.length} ${tokens} ${secs.toFixed(3)}`);
}

main().catch(e => { console.error(e); process.exit(1); });
