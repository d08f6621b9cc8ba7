#!/usr/bin/env python3
"""Validate JSON documents against one of ragd's schemas (JSON Schema 2020-12).

usage: validate.py SCHEMA FILE...   (FILE may be - for standard input; a
file holding several documents one per line is validated line by line)

Prints one line per invalid document and exits 1 if any is invalid, 2 on
unusable arguments.
"""
import json
import sys

import jsonschema


def json_lines(path, text):
    """Yield (line number, document) for each non-blank line; None if bad."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except ValueError as e:
            print(f"{path}:{n}: not JSON: {e}")
            yield n, None


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in argv[2:]:
        text = sys.stdin.read() if path == "-" else open(path).read()
        try:
            docs = [(1, json.loads(text))]
        except ValueError:
            docs = list(json_lines(path, text))
        for n, doc in docs:
            if doc is None:
                bad += 1
                continue
            for err in validator.iter_errors(doc):
                where = "/".join(str(p) for p in err.absolute_path) or "(root)"
                print(f"{path}:{n}: {where}: {err.message}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
