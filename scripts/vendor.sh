#!/usr/bin/env bash
# Copy the front-end libraries installed by npm into service/static/vendor/, served by Flask (no CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
src=node_modules
dst=service/static/vendor

for f in leaflet/dist/leaflet.js leaflet/dist/leaflet.css leaflet/dist/images chart.js/dist/chart.umd.js \
         redoc/bundles/redoc.standalone.js; do
    [[ -e $src/$f ]] || { echo "ERROR: $src/$f is missing: run 'npm ci' (make does)." >&2; exit 1; }
done
echo "==> Front-end libraries into $dst/" >&2
rm -rf "$dst"
mkdir -p "$dst/leaflet" "$dst/chart.js" "$dst/redoc"
cp "$src/leaflet/dist/leaflet.js" "$src/leaflet/dist/leaflet.css" "$dst/leaflet/"
cp -r "$src/leaflet/dist/images" "$dst/leaflet/images"
cp "$src/chart.js/dist/chart.umd.js" "$dst/chart.js/"
cp "$src/redoc/bundles/redoc.standalone.js" "$dst/redoc/"
for pkg in leaflet chart.js redoc; do
    cp "$src/$pkg/LICENSE"* "$dst/$pkg/" 2>/dev/null || true
done
touch "$dst/.stamp"
