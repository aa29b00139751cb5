// Reads dataset shards with implementations that share no code with
// arrow-go, and prints a checksum of their rows for the Go test to compare:
//   node foreign-reader.mjs NODE_MODULES FILE...
// .arrow files: apache-arrow (JS), LZ4_FRAME buffers decoded by lz4js.
// .parquet files: hyparquet (pure JS, its own Snappy).
// The checksum is sha256 over one line per row:
//   length|input_ids[0..length)|segment_ids[0..length)|doc_id|source
// and, separately, the padding is checked to be zeros.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modules), 'x.js'));
const arrow = require('apache-arrow');
const lz4 = require('lz4js');
const { parquetReadObjects } = await import(path.join(path.resolve(modules), 'hyparquet', 'src', 'index.js'));

arrow.compressionRegistry.set(arrow.CompressionType.LZ4_FRAME, {
  encode: (data) => lz4.compress(data),
  decode: (data) => Uint8Array.from(lz4.decompress(data)),
});

const hash = createHash('sha256');
let rows = 0, tokens = 0, maxSeqLength = null;
function addRow(len, ids, segs, doc, source) {
  for (let j = len; j < ids.length; j++) {
    if (Number(ids[j]) !== 0 || Number(segs[j]) !== 0) throw new Error(`row ${rows}: non-zero padding at ${j}`);
  }
  hash.update(`${len}|${Array.from(ids.slice(0, len)).join(',')}|${Array.from(segs.slice(0, len)).join(',')}|${doc}|${source}\n`);
  rows++;
  tokens += len;
}

for (const f of files) {
  if (f.endsWith('.arrow')) {
    const table = arrow.tableFromIPC(readFileSync(f));
    maxSeqLength = table.schema.metadata.get('electra.max_seq_length');
    const ids = table.getChild('input_ids'), segs = table.getChild('segment_ids');
    const len = table.getChild('length'), doc = table.getChild('doc_id'), src = table.getChild('source');
    for (let i = 0; i < table.numRows; i++) {
      addRow(len.get(i), ids.get(i).toArray(), segs.get(i).toArray(), doc.get(i), src.get(i));
    }
  } else if (f.endsWith('.parquet')) {
    const buf = readFileSync(f);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const objs = await parquetReadObjects({ file });
    for (const o of objs) addRow(Number(o.length), o.input_ids, o.segment_ids, o.doc_id, o.source);
  } else {
    throw new Error(`unknown shard type: ${f}`);
  }
}
console.log(JSON.stringify({ rows, tokens, maxSeqLength, sha256: hash.digest('hex') }));
