#!/usr/bin/env python3
"""api: reads the forge's API directly (the truth the mount is compared with).

Usage: api.py BASE_URL TOKEN PATH [EXPR]
Prints the JSON answer, or with EXPR the value of that Python expression over
it (j is the JSON, h the headers), one list item a line. BFS_FORGE (gitea,
the default, or github) says where the API is: BASE_URL/api/v1 or BASE_URL.
API_ACCEPT, when set, is the Accept header (GitHub's diff media type).
"""
import json
import os
import sys
import urllib.request


def main():
    base, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
    expr = sys.argv[4] if len(sys.argv) > 4 else None
    prefix = "" if os.environ.get("BFS_FORGE") == "github" else "/api/v1"
    headers = {"Authorization": "token " + token}
    if os.environ.get("API_ACCEPT"):
        headers["Accept"] = os.environ["API_ACCEPT"]
    req = urllib.request.Request(base + prefix + path, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
        h = {k.lower(): v for k, v in r.headers.items()}
    try:
        j = json.loads(body)
    except ValueError:
        sys.stdout.write(body.decode())
        return 0
    if expr is None:
        print(json.dumps(j, indent=2))
        return 0
    v = eval(expr, {"j": j, "h": h})
    if isinstance(v, list):
        for x in v:
            print(x)
    else:
        print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
