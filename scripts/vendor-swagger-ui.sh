#!/usr/bin/env bash
# Vendor Swagger UI into the gateway package: ./scripts/vendor-swagger-ui.sh
#
# `GET /docs` serves Swagger UI from gateway/static/swagger-ui/ (package data: no CDN, works
# offline). This script refreshes that folder from the npm package swagger-ui-dist at the
# version pinned below:
#
# 1. `npm pack swagger-ui-dist@VERSION` into a temporary folder (npm pack downloads the
#    tarball only: no dependency is installed and no install script runs);
# 2. checks the tarball against the pinned npm integrity (sha512, Subresource Integrity
#    form), so a changed or substituted tarball stops the script;
# 3. copies, unchanged, only what the page needs (the bundle, its stylesheet, a favicon) and
#    the licence texts, writes VERSION, SHA256SUMS (checked by tests/api/test_docs_assets.py)
#    and README.md.
#
# To upgrade: `npm view swagger-ui-dist@5 version` and `npm view swagger-ui-dist@X.Y.Z
# dist.integrity`, set both below, run this, then the browser test (pytest -m browser).
set -euo pipefail

VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
FILES=(
    swagger-ui-bundle.js
    swagger-ui.css
    favicon-32x32.png
    LICENSE
    NOTICE
    swagger-ui-bundle.js.LICENSE.txt
)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DEST=gateway/static/swagger-ui
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || {
    echo "error: npm is needed (e.g. apt-get install -y npm)" >&2
    exit 1
}

echo "==> npm pack swagger-ui-dist@$VERSION"
TARBALL=$(cd "$WORK" && npm pack --silent "swagger-ui-dist@$VERSION")
TARBALL=$WORK/$TARBALL

ACTUAL="sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)"
if [ "$ACTUAL" != "$INTEGRITY" ]; then
    echo "error: integrity mismatch for swagger-ui-dist@$VERSION" >&2
    echo "  expected $INTEGRITY" >&2
    echo "  got      $ACTUAL" >&2
    exit 1
fi
echo "    integrity ok ($INTEGRITY)"

tar -xzf "$TARBALL" -C "$WORK"
rm -rf "$DEST"
mkdir -p "$DEST"
for file in "${FILES[@]}"; do
    cp "$WORK/package/$file" "$DEST/$file"
done

echo "$VERSION" >"$DEST/VERSION"
(cd "$DEST" && sha256sum "${FILES[@]}" >SHA256SUMS)
cat >"$DEST/README.md" <<EOF
# Swagger UI $VERSION (vendored)

Files from the npm package \`swagger-ui-dist@$VERSION\`, tarball integrity
\`$INTEGRITY\`,
copied unchanged by \`scripts/vendor-swagger-ui.sh\`: do not edit them by hand, run the
script. \`GET /docs\` serves them under \`/docs/assets/\`.

- \`swagger-ui-bundle.js\`, \`swagger-ui.css\`: Swagger UI (source maps are not shipped)
- \`favicon-32x32.png\`: the page icon
- \`LICENSE\` (Apache-2.0), \`NOTICE\`: Swagger UI's licence and notice
- \`swagger-ui-bundle.js.LICENSE.txt\`: licences of the libraries inside the bundle
- \`VERSION\`, \`SHA256SUMS\`: what was copied (checked by tests/api/test_docs_assets.py)
EOF
echo "==> $DEST:"
ls -l "$DEST"
