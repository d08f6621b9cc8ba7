#!/usr/bin/env python3
"""Validate JSON documents against one of ragd's schemas (JSON Schema 2020-12).

usage: validate.py [--sse] SCHEMA FILE...

FILE may be - for standard input.  A file holding one JSON document is
validated whole; otherwise it is read as one document per line.  With --sse
each file is a text/event-stream and every event is validated as
{"event": NAME, "data": <its data parsed as JSON>}.  References between
schemas resolve to the other files in SCHEMA's folder, never the network.

Prints one line per invalid document and exits 1 if any is invalid, 2 on
unusable arguments.
"""
import json
import os
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


def sse_events(path, text):
    """Yield (event number, {"event", "data"}) for each event of a stream."""
    n = 0
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
        if not data:
            continue
        n += 1
        try:
            yield n, {"event": event, "data": json.loads("\n".join(data))}
        except ValueError as e:
            print(f"{path}: event {n}: data is not JSON: {e}")
            yield n, None


def documents(path, text, sse):
    if sse:
        return list(sse_events(path, text))
    try:
        return [(1, json.loads(text))]
    except ValueError:
        return list(json_lines(path, text))


def validator_for(schema_path):
    folder = os.path.dirname(os.path.abspath(schema_path))
    store = {}
    for name in os.listdir(folder):
        if name.endswith(".schema.json"):
            with open(os.path.join(folder, name)) as f:
                s = json.load(f)
            store[s["$id"]] = s
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def main(argv):
    sse = len(argv) > 1 and argv[1] == "--sse"
    if sse:
        argv = argv[:1] + argv[2:]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    validator = validator_for(argv[1])
    bad = 0
    for path in argv[2:]:
        text = sys.stdin.read() if path == "-" else open(path).read()
        for n, doc in documents(path, text, sse):
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
