// Reads a .warc.gz with warcio.js the way our reader is benchmarked: every
// record parsed, every response's HTTP headers parsed and its payload read
// in full. Prints "warcio <compressed-bytes> <records> <responses> <seconds>".
import fs from 'node:fs';
import { WARCParser } from 'warcio';

const path = process.argv[2];
const size = fs.statSync(path).size;
const t0 = process.hrtime.bigint();
let records = 0, responses = 0, payload = 0;
const parser = new WARCParser(fs.createReadStream(path));
for await (const record of parser) {
  records++;
  if (record.warcType === 'response') {
    responses++;
    const body = await record.readFully(true);
    payload += body.length;
  }
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`warcio ${size} ${records} ${responses} ${s.toFixed(3)} ${payload}`);
