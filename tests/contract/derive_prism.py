#!/usr/bin/env python3
"""derive_prism.py IN OUT: the copy of a forge's Swagger 2.0 description that
Prism validates traffic against, derived from the original kept in the
repository (tests/contract/<forge>/). Two changes, nothing else:

1. Prism ignores Swagger 2.0 `basePath`, so it is baked into every path
   ("/repos/..." becomes "/api/v1/repos/...") and removed.
2. The response models never say a property may be null, but real Gitea
   sends null for every unset Go pointer or slice (an issue's milestone,
   assignee, closed_at, pull_request...). Every property of every model
   that is not a request body (definitions not named *Option or *Options)
   also accepts null: a `$ref` becomes `anyOf: [$ref, {type: null}]`, a
   typed property gets `x-nullable: true`.

The output is written atomically (a temporary file renamed into place), so
a test never reads half a file. Standard library only.
"""
import json
import os
import re
import sys
import tempfile


def derive(spec):
    base = (spec.pop("basePath", "") or "").rstrip("/")
    spec["paths"] = {base + k: v for k, v in spec["paths"].items()}
    for name, model in (spec.get("definitions") or {}).items():
        if re.search(r"Options?$", name):
            continue
        props = model.get("properties") or {}
        for pname, prop in props.items():
            if "$ref" in prop:
                props[pname] = {"anyOf": [{"$ref": prop["$ref"]}, {"type": "null"}]}
            elif isinstance(prop.get("type"), str):
                prop["x-nullable"] = True
    return spec


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: derive_prism.py IN OUT\n")
        return 2
    src, dst = argv[1], argv[2]
    try:
        with open(src, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("derive_prism: cannot read '%s': %s\n" % (src, e))
        return 1
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        sys.stderr.write("derive_prism: '%s' is not a Swagger description (no paths)\n" % src)
        return 1
    out = json.dumps(derive(spec), indent=2, ensure_ascii=False) + "\n"
    d = os.path.dirname(os.path.abspath(dst))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".derive-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except OSError as e:
        os.unlink(tmp)
        sys.stderr.write("derive_prism: cannot write '%s': %s\n" % (dst, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
