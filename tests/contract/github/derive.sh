#!/usr/bin/env bash
# Re-derive api.github.com.subset.json from the npm package @octokit/openapi.
# The package is installed into a temp dir (never committed) and removed.
# Usage: bash tests/contract/github/derive.sh [VERSION]   (default 23.0.2)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-23.0.2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" "@octokit/openapi@$version" >/dev/null
src="$tmp/node_modules/@octokit/openapi/generated/api.github.com.json"
sha256sum "$src"
python3 "$here/derive.py" "$src" "$here/api.github.com.subset.json"
cp "$tmp/node_modules/@octokit/openapi/LICENSE" "$here/LICENSE.octokit-openapi"
