#!/usr/bin/env bash
# Refresh the vendored front-end libraries from the npm registry (`make vendor`).
# Running castgraph never needs this, nor Node: the files below are committed.
# Versions are pinned here; VERSIONS.json records what was copied, with each file's sha256.
set -euo pipefail
cd "$(dirname "$0")"
PACKAGES=(preact@10.27.2 htm@3.1.1 marked@18.3.0 dompurify@3.5.0)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "${PACKAGES[@]}" >/dev/null)
unpack() { mkdir -p "$work/$1" && tar xzf "$work/$1.tgz" -C "$work/$1" --strip-components=1; }
for spec in "${PACKAGES[@]}"; do unpack "${spec/@/-}"; done
copy() { # package-version, file inside the package, vendored name
  cp "$work/$1/$2" "$3"
}
copy preact-10.27.2 dist/preact.module.js preact.module.js
copy preact-10.27.2 hooks/dist/hooks.module.js preact-hooks.module.js
copy preact-10.27.2 LICENSE LICENSE.preact
copy htm-3.1.1 dist/htm.module.js htm.module.js
copy htm-3.1.1 LICENSE LICENSE.htm
copy marked-18.3.0 lib/marked.esm.js marked.esm.js
copy marked-18.3.0 LICENSE LICENSE.marked
copy dompurify-3.5.0 dist/purify.es.mjs purify.es.mjs
copy dompurify-3.5.0 LICENSE LICENSE.dompurify
# The sourcemap comments point at files we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' ./*.js ./*.mjs
python3 - "${PACKAGES[@]}" <<'PY'
import hashlib, json, pathlib, sys
files = {
    "preact": (["preact.module.js", "preact-hooks.module.js"], "MIT", "LICENSE.preact"),
    "htm": (["htm.module.js"], "Apache-2.0", "LICENSE.htm"),
    "marked": (["marked.esm.js"], "MIT", "LICENSE.marked"),
    "dompurify": (["purify.es.mjs"], "MPL-2.0 OR Apache-2.0", "LICENSE.dompurify"),
}
out = []
for spec in sys.argv[1:]:
    name, version = spec.rsplit("@", 1)
    names, licence, licence_file = files[name]
    out.append({
        "package": name, "version": version, "licence": licence, "licence_file": licence_file,
        "files": {n: hashlib.sha256(pathlib.Path(n).read_bytes()).hexdigest() for n in names},
    })
pathlib.Path("VERSIONS.json").write_text(json.dumps(out, indent=2) + "\n")
PY
echo "vendored: ${PACKAGES[*]}"
