"""Run every benchmark and write the results to one JSON file (what `make bench` calls).

    python benchmarks/run.py --out benchmarks/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detect_throughput  # noqa: E402
import graph_throughput  # noqa: E402
import ingest_throughput  # noqa: E402
import pipeline_wall_time  # noqa: E402
import threads_under_load  # noqa: E402
import training_at_scale  # noqa: E402
import training_throughput  # noqa: E402

BENCHMARKS = {
    "ingest_throughput": ingest_throughput.run,
    "graph_throughput": graph_throughput.run,
    "training_throughput": training_throughput.run,
    "training_at_scale": training_at_scale.run,
    "detect_throughput": detect_throughput.run,
    "threads_under_load": threads_under_load.run,
    "pipeline_wall_time": pipeline_wall_time.run,  # about 10 minutes on 2 cores
    # the real-data pipeline (about 25 minutes on 2 cores), where hcrl_sa is beside the checkout
    "pipeline_wall_time_hcrl_sa": pipeline_wall_time.run_hcrl_sa,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results.json")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in args.only or BENCHMARKS:
        print(f"== {name}", flush=True)
        results[name] = BENCHMARKS[name]() | {"date": time.strftime("%Y-%m-%d")}
        print(json.dumps(results[name], indent=2), flush=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
