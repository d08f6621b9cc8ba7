"""Read ragd's GET /metrics text for tests/t/t1300-metrics.sh.

  prom.py FILE parse            parse FILE with prometheus_client's parser
                                (exit 77 when that module is missing)
  prom.py FILE families         one "NAME TYPE" line per family
  prom.py FILE value NAME [L=V ...]
                                the sample NAME with exactly those labels
                                (0 when absent: a series not yet created)
  prom.py FILE labels NAME LABEL
                                every value LABEL takes in NAME's samples

Without prometheus_client the other commands fall back on a small reader of
the same format, so the values are still checked.
"""
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """(name, labels, value) of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit('unparseable sample line: %r' % line)
        labels = dict(LABEL.findall(m.group(3) or ''))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def families(text):
    return [l.split()[2:4] for l in text.splitlines() if l.startswith('# TYPE ')]


def main():
    text = open(sys.argv[1]).read()
    cmd = sys.argv[2]
    if cmd == 'parse':
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            sys.exit(77)
        n = sum(len(f.samples) for f in text_string_to_metric_families(text))
        print(n)
    elif cmd == 'families':
        for name, kind in families(text):
            print(name, kind)
    elif cmd == 'value':
        want = dict(a.split('=', 1) for a in sys.argv[4:])
        for name, labels, value in samples(text):
            if name == sys.argv[3] and labels == want:
                print('%g' % value)
                return
        print(0)
    elif cmd == 'labels':
        for v in sorted({l.get(sys.argv[4]) for n, l, _ in samples(text)
                         if n == sys.argv[3] and sys.argv[4] in l}):
            print(v)
    else:
        raise SystemExit('unknown command ' + cmd)


main()
