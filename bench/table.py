"""Prints the benchmark table (markdown) from bench/rows.conf and results.tsv.

    python3 bench/table.py ROWS_CONF RESULTS_TSV [META_TXT]

results.tsv lines: SERVER <tab> ROW_ID <tab> VALUE <tab> NOTE, where VALUE is a
number, "skip" (the server is not available) or "error" (the measurement
failed; bench/out/logs says why). Columns: squall, the peers, then squall's
ratio to each peer, then the floor squall must clear and PASS/FAIL.
"""
import sys

SERVERS = [("squall", "squall"), ("tornado", "Tornado"), ("nginx", "nginx"), ("limit", "limit")]
PEERS = SERVERS[1:]


def read_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 6:
                sys.exit("table.py: bad line in %s: %s" % (path, line))
            rid, _kind, _params, label, better, floor = parts
            rows.append({"id": rid, "label": label, "better": better, "floor": floor})
    return rows


def read_results(path):
    res, notes = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            server, rid, value = parts[:3]
            res[(server, rid)] = value
            if len(parts) > 3 and parts[3]:
                notes[(server, rid)] = parts[3]
    return res, notes


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v):
    x = num(v)
    if x is None:
        return {"skip": "skipped", "error": "error", None: "-"}.get(v, str(v))
    return "{:,.0f}".format(x)


def fmt_ratio(s, p, better):
    s, p = num(s), num(p)
    if s is None or p is None:
        return "-"
    if better == "higher":
        return "n/a" if p == 0 else "{:.2f}x".format(s / p)
    # Lower is better: squall/peer, and how many times less that is.
    if p <= 0:
        return "n/a (peer ~0)"
    r = s / p
    if s <= 0:
        return "{:.3g}x (~0)".format(r)
    if r < 1:
        return "{:.3g}x ({:,.1f}x less)".format(r, 1 / r)
    return "{:.3g}x ({:,.2f}x more)".format(r, r)


def missing(value):
    return "ERROR" if value == "error" else "SKIP"


def verdict(floor, squall, res, rid):
    """(floor text for the table, PASS/FAIL/SKIP/-)"""
    if floor in ("", "-"):
        return "-", "-"
    words = floor.split()
    s = num(squall)
    try:
        op, k = words[0], float(words[1].replace(",", ""))
    except (IndexError, ValueError):
        return floor, "?"
    if len(words) == 4 and words[2] == "x":
        peer = words[3]
        p = num(res.get((peer, rid)))
        text = "squall %s %gx %s" % ("≥" if op == ">=" else "≤", k, peer)
        if p is not None:
            text += " (%s)" % "{:,.0f}".format(k * p)
        if s is None or p is None:
            return text, missing(squall) if s is None else "n/a"
        bar = k * p
    else:
        text = "%s %s" % ("≥" if op == ">=" else "≤", "{:,.0f}".format(k))
        if s is None:
            return text, missing(squall)
        bar = k
    ok = s >= bar if op == ">=" else s <= bar
    return text, "PASS" if ok else "FAIL"


def main():
    rows = read_rows(sys.argv[1])
    res, notes = read_results(sys.argv[2])
    meta = open(sys.argv[3]).read().strip() if len(sys.argv) > 3 else ""
    head = ["metric"] + [n for _, n in SERVERS] + ["squall/%s" % n for _, n in PEERS] + ["floor", "verdict"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    footnotes, verdicts = [], []
    measured = {rid for (_, rid) in res}
    for r in rows:
        rid = r["id"]
        if rid not in measured:
            continue  # a row left out of this run (BENCH_ROWS)
        label = "%s (%s is better)" % (r["label"], r["better"])
        cells = [label]
        for key, _ in SERVERS:
            cell = fmt(res.get((key, rid)))
            note = notes.get((key, rid))
            if note:
                if res.get((key, rid)) == "skip":
                    note = "%s skipped: %s" % (key, note)
                else:
                    note = "%s, %s: %s" % (key, rid, note)
                if note not in footnotes:
                    footnotes.append(note)
                cell += " [%d]" % (footnotes.index(note) + 1)
            cells.append(cell)
        squall = res.get(("squall", rid))
        for key, _ in PEERS:
            cells.append(fmt_ratio(squall, res.get((key, rid)), r["better"]))
        floor_text, v = verdict(r["floor"], squall, res, rid)
        verdicts.append(v)
        cells.extend([floor_text, v])
        out.append("| " + " | ".join(cells) + " |")
    text = "\n".join(out) + "\n"
    if footnotes:
        text += "\n" + "\n".join("[%d] %s" % (i + 1, n) for i, n in enumerate(footnotes)) + "\n"
    if meta:
        text += "\n" + meta + "\n"
    sys.stdout.write(text)
    # Exit status for BENCH_STRICT: 1 if squall failed a floor or a measurement.
    return 1 if any(v in ("FAIL", "ERROR") for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
