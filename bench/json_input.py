"""Benchmark: read 10 MB of outside JSON within its limits, next to the floor of `json.loads`
of the same bytes, measured in the same run.

    .venv/bin/python bench/json_input.py [--megabytes 10] [--runs 3]

Documents, each of `--megabytes` million bytes (10 MB stays under the default JSON_MAX_BYTES):

- legal: an OCPI-like array of CDRs, each nested 6 levels deep, with strings that hold escaped
  quotes and backslashes, brackets and unicode escapes; read whole.
- adversarial: a string that opens and never closes, full of escaped quotes (`["\\"\\"\\"…`),
  the body that made the old depth count take time growing with the square of its size;
  refused as malformed.

Timed: `json_input_parse` (UTF-8 decoding, the one-pass depth count, then `json.loads` with
Decimal numbers) against the floor `json.loads(content)` of the same bytes (floats, no depth
count; for the adversarial one, until it raises), best of `--runs` each.

The last line printed is one JSON object with the figures.
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django
from django.conf import settings

CDR = (
    '{{"id": "CDR-{number:08d}", "party_id": "VLT", "cdr_token": {{"uid": "04A1{number:06X}",'
    ' "type": "RFID", "contract_id": "NL-VLT-C{number:08d}"}}, "cdr_location": {{"name":'
    ' "Depot \\"Noord\\" [bay {bay}] {{east}}", "address": "Kade 1\\\\2, Z\\u00fcrich",'
    ' "coordinates": {{"latitude": "52.37403", "longitude": "4.88969"}}}},'
    ' "charging_periods": [{{"start_date_time": "2026-01-05T06:00:00Z", "dimensions":'
    ' [{{"type": "ENERGY", "volume": 12.345}}, {{"type": "TIME", "volume": 1.25}}]}}],'
    ' "total_cost": {{"excl_vat": 4.56, "incl_vat": 5.52}}, "total_energy": 12.345}}'
)


def legal_document(size: int) -> bytes:
    rows, written, number = [], 2, 0
    while True:
        row = CDR.format(number=number, bay=number % 40)
        if written + len(row) + 2 > size:
            break
        rows.append(row)
        written += len(row) + 2
        number += 1
    return ("[" + ", ".join(rows) + "]").encode()


def adversarial_document(size: int) -> bytes:
    return ('["' + '\\"' * ((size - 2) // 2)).encode()


def timed(function, content: bytes, runs: int) -> float:
    from voltop.core.json_input import JsonMalformed

    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        with contextlib.suppress(JsonMalformed, json.JSONDecodeError):
            function(content)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    settings.configure(JSON_MAX_BYTES=10_485_760, JSON_MAX_DEPTH=64)
    django.setup()
    from voltop.core.json_input import json_input_parse

    size = arguments.megabytes * 1_000_000
    figures = {"bench": "json_input", "bytes": size}
    for name, content in (
        ("legal", legal_document(size)),
        ("adversarial", adversarial_document(size)),
    ):
        parsed = timed(json_input_parse, content, arguments.runs)
        floor = timed(json.loads, content, arguments.runs)
        ratio = parsed / floor
        print(
            f"{name:<12} {len(content):,} bytes  json_input_parse {parsed:.3f} s"
            f"  floor json.loads {floor:.3f} s  ratio {ratio:.2f}x"
        )
        figures |= {
            f"{name}_s": round(parsed, 4),
            f"{name}_floor_s": round(floor, 4),
            f"{name}_ratio": round(ratio, 2),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
