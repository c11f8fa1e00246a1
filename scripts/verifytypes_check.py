"""Checks the type completeness of edgerun's public API from the JSON report of
``pyright --verifytypes edgerun --ignoreexternal --outputjson`` (scripts/test.sh).

    python scripts/verifytypes_check.py build/verifytypes.json --min 98

Prints the score; below ``--min`` percent it lists the symbols whose types are not known
and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="pyright --verifytypes --outputjson output")
    ap.add_argument("--min", type=float, default=98.0, help="lowest acceptable score, percent")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    tc = report.get("typeCompleteness")
    if tc is None:
        print(f"{args.report}: no typeCompleteness section (did pyright find the package?)", file=sys.stderr)
        return 1
    score = 100.0 * tc["completenessScore"]
    counts = tc["exportedSymbolCounts"]
    print(f"pyright --verifytypes {tc['packageName']}: {score:.1f}% of {sum(counts.values())} exported symbols "
          f"have known types ({counts['withAmbiguousType']} ambiguous, {counts['withUnknownType']} unknown)")
    if score >= args.min:
        return 0
    for sym in tc["symbols"]:
        if sym.get("isExported") and (not sym.get("isTypeKnown") or sym.get("isTypeAmbiguous")):
            first = "; ".join(d["message"].splitlines()[0] for d in sym.get("diagnostics", []))
            print(f"  {sym['name']}: {first}")
    print(f"type completeness {score:.1f}% is below {args.min:g}%: annotate the symbols above", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
