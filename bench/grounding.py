"""The citation check on model outputs written for it: how many unfaithful sentences pass, how
many faithful ones are kept.

    python bench/grounding.py [--verbose]

Reads ``tests/fixtures/model_outputs.json`` (made-up passages, and one-sentence outputs marked
faithful or not: wrong numbers, swapped names, claims the passage does not make, wrong or
missing ``[n]``) and prints the two shares, then each sentence the check got wrong (every
sentence with ``--verbose``).
"""

from __future__ import annotations

import json

from common import ROOT, parser

from rag.grounding import check


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--verbose", action="store_true", help="print every sentence's verdict")
    args = options.parse_args()
    fixtures = json.loads((ROOT / "tests" / "fixtures" / "model_outputs.json").read_text())
    passages = [(p["text"], f"{p['title']} ({p['published']})") for p in fixtures["passages"]]
    faithful = unfaithful = kept = passed = 0
    for output in fixtures["outputs"]:
        result = check(output["text"], passages)
        if output["faithful"]:
            faithful += 1
            kept += result.supported
        else:
            unfaithful += 1
            passed += result.supported
        if args.verbose or result.supported != output["faithful"]:
            verdict = "kept" if result.supported else f"stopped: {result.reason}"
            print(f"{'faithful' if output['faithful'] else 'unfaithful':10} {verdict:60.60} {output['text']}")
    print(f"unfaithful sentences that pass: {passed} of {unfaithful} ({passed / unfaithful:.0%})")
    print(f"faithful sentences kept: {kept} of {faithful} ({kept / faithful:.0%})")


if __name__ == "__main__":
    main()
