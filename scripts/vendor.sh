#!/usr/bin/env bash
# Copy the front-end libraries installed by npm into service/static/vendor/, served by Flask (no CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
src=node_modules
dst=service/static/vendor

# axe-core: the accessibility checks of the browser tests. firebase: the two compat scripts the residents' app
# loads only when FCM web push is configured.
for f in leaflet/dist/leaflet.js leaflet/dist/leaflet.css leaflet/dist/images chart.js/dist/chart.umd.js \
         redoc/bundles/redoc.standalone.js axe-core/axe.min.js firebase/firebase-app-compat.js \
         firebase/firebase-messaging-compat.js; do
    [[ -e $src/$f ]] || { echo "ERROR: $src/$f is missing: run 'npm ci' (make does)." >&2; exit 1; }
done
echo "==> Front-end libraries into $dst/" >&2
rm -rf "$dst"
mkdir -p "$dst/leaflet" "$dst/chart.js" "$dst/redoc" "$dst/axe-core" "$dst/firebase"
cp "$src/leaflet/dist/leaflet.js" "$src/leaflet/dist/leaflet.css" "$dst/leaflet/"
cp -r "$src/leaflet/dist/images" "$dst/leaflet/images"
cp "$src/chart.js/dist/chart.umd.js" "$dst/chart.js/"
cp "$src/redoc/bundles/redoc.standalone.js" "$dst/redoc/"
cp "$src/axe-core/axe.min.js" "$dst/axe-core/"
cp "$src/firebase/firebase-app-compat.js" "$src/firebase/firebase-messaging-compat.js" "$dst/firebase/"
for pkg in leaflet chart.js redoc axe-core firebase; do
    cp "$src/$pkg/LICENSE"* "$dst/$pkg/" 2>/dev/null || true
done
touch "$dst/.stamp"
