#!/usr/bin/env bash
# Fetch the web library's third-party browser code from npm at pinned versions and
# copy the built files, with their licences, to api/web/static/vendor/ (committed:
# `make demo` and `make test` need no Node). Run by `make assets`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=api/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The pins. uppy is Uppy's browser bundle (core, drag-drop, status bar, tus);
# peaks.js's bundle includes its peer dependencies konva and waveform-data.
packages=(uppy@5.2.0 peaks.js@4.0.0 konva@9.3.22 waveform-data@4.5.2 blurhash@2.0.5)

command -v npm >/dev/null 2>&1 || { echo "make assets needs npm (Debian: apt-get install -y npm)" >&2; exit 1; }
echo '{"private": true}' > "$work/package.json"
npm install --prefix "$work" --no-audit --no-fund --ignore-scripts --save-exact "${packages[@]}" >/dev/null
m="$work/node_modules"

rm -rf "$out" && mkdir -p "$out/licenses"
cp "$m/uppy/dist/uppy.min.js" "$m/uppy/dist/uppy.min.css" "$out/"
cp "$m/peaks.js/dist/peaks.min.js" "$out/"
cp "$m/blurhash/dist/esm/index.js" "$out/blurhash.js"
cp "$m/uppy/LICENSE" "$out/licenses/uppy.txt"
cp "$m/peaks.js/COPYING" "$out/licenses/peaks.js.txt"
cp "$m/konva/LICENSE" "$out/licenses/konva.txt"
cp "$m/waveform-data/LICENSE" "$out/licenses/waveform-data.txt"
# blurhash's package ships no licence file; its package.json says MIT (Wolt Enterprises).
node -e 'const p=require(process.argv[1]);console.log(`${p.name} ${p.version}: ${p.license}\nCopyright (c) Wolt Enterprises. ${p.repository.url||p.repository}`)' \
  "$m/blurhash/package.json" > "$out/licenses/blurhash.txt"
for spec in "${packages[@]}"; do
  name=${spec%@*}
  echo "$name $(node -p "require('$m/$name/package.json').version") $(node -p "require('$m/$name/package.json').license")"
done > "$out/VERSIONS"
echo "vendored into $out:"; cat "$out/VERSIONS"
