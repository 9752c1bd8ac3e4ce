"""Graph construction throughput on one core: parquet -> window graphs -> shards, against a per-window loop.

    make bench                               # all benchmarks -> benchmarks/results.json
    python benchmarks/graph_throughput.py    # this one alone, printed

Input: real hcrl_sa recordings (Kia DoS and fuzzing, 431,891 messages) when
../shared/datasets/hcrl_sa is present, the synthetic vehicle otherwise, written
to parquet in the canonical schema first.  Timed: reading the parquet, building
the window graphs (W = S = 100) with the features relative to the vehicle's
profile, applying vocabulary and normalisation, writing shards, as the shards
rule does.  In the same run: the builder alone with and without the profile
(what the relative features cost), and the anchor: the per-window Python loop of
``loop_builder.py`` (as research code builds CAN graphs; the window-intrinsic
features and the edges, checked equal to the builder's) on the first 50,000
messages, against the builder without profile on the same messages.  The pandas
reference of ``canguard.graphs.reference`` (the tests' oracle, which also
computes the relative features) is timed on 2,000 messages with the profile.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ingest_throughput import HCRL_SA, machine, pin_one_core
from loop_builder import build_window_graphs_loop, check_against

from canguard.frames import Frames
from canguard.graphs.builder import build_window_graphs
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.graphs.reference import build_window_graphs_reference
from canguard.graphs.shards import ShardWriter
from canguard.graphs.windows import read_recording
from canguard.profiles import fit_profile
from canguard.schema import frames_to_table, write_messages

SIZE = STRIDE = 100


def recordings() -> tuple[list[Frames], str]:
    if HCRL_SA.is_dir():
        from canguard.ingest.cantt import read_cantt_csv
        files = ["train_02_with_attacks/DoS-kia.csv", "test_01_known_vehicle_known_attack/fuzzing-kia.csv"]
        return [read_cantt_csv(HCRL_SA / f).frames for f in files], "hcrl_sa " + ", ".join(files)
    from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings
    spec = SyntheticSpec.from_config({})
    return [generate_recording(p, spec) for p in plan_recordings(spec)[:4]], "synthetic vehicle"


def run() -> dict:
    pin_one_core()
    torch.set_num_threads(1)
    frames, origin = recordings()
    messages = sum(len(f) for f in frames)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parquets = []
        for i, f in enumerate(frames):
            path = tmp / f"rec{i}.parquet"
            write_messages(path, frames_to_table(f, np.arange(len(f)), "dos", str(path), {"key": f"r/{i}"}))
            parquets.append(path)
        # the vehicle profile, vocabulary and normalisation are fitted once, before (rules of their own)
        benign = frames[0].take(frames[0].label == 0)
        profile = fit_profile([benign], SIZE, "kia")
        graphs0 = build_window_graphs(frames[0], SIZE, STRIDE, [profile])
        prep = fit_preprocessing([("r", graphs0, np.full(graphs0.num_graphs, "train"))])

        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            writer = ShardWriter(tmp / "shards", prep, graphs_per_shard=4096)
            for path in parquets:
                recording, meta = read_recording(path)
                graphs = build_window_graphs(recording, SIZE, STRIDE, [profile])
                writer.add(meta["key"], "", graphs, np.arange(graphs.num_graphs), "dos", "kia")
            manifest = writer.close()
            best = min(best, time.perf_counter() - t0)

        builder = {}
        for name, profiles in (("with_profile", [profile]), ("without_profile", None)):
            t0 = time.perf_counter()
            for f in frames:
                build_window_graphs(f, SIZE, STRIDE, profiles)
            builder[name] = messages / (time.perf_counter() - t0)

        sample = frames[0].take(np.arange(min(50_000, len(frames[0]))))
        t0 = time.perf_counter()
        loop = build_window_graphs_loop(sample, SIZE, STRIDE)
        loop_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = build_window_graphs(sample, SIZE, STRIDE)
        fast_sample = time.perf_counter() - t0
        check_against(loop, fast)
        small = frames[0].take(np.arange(2_000))
        t0 = time.perf_counter()
        build_window_graphs_reference(small, SIZE, STRIDE, [profile])
        naive_profile = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_window_graphs(small, SIZE, STRIDE, [profile])
        fast_profile = time.perf_counter() - t0

    pipeline_rate = messages / best
    loop_rate = len(sample) / loop_s
    return {
        "machine": machine(), "cores_used": 1, "input": origin, "messages": messages,
        "window_size": SIZE, "window_stride": STRIDE, "graphs": manifest["num_graphs"],
        "parquet_to_shards_seconds": round(best, 3),
        "parquet_to_shards_messages_per_second": round(pipeline_rate),
        "builder_with_profile_messages_per_second": round(builder["with_profile"]),
        "builder_without_profile_messages_per_second": round(builder["without_profile"]),
        "end_to_end_share_of_builder_with_profile": round(pipeline_rate / builder["with_profile"], 3),
        "loop_anchor_messages": len(sample),
        "loop_anchor_messages_per_second": round(loop_rate),
        "builder_without_profile_on_anchor_sample_messages_per_second": round(len(sample) / fast_sample),
        "speedup_builder_vs_loop_anchor": round(loop_s / fast_sample, 1),
        "speedup_end_to_end_with_profile_vs_loop_anchor": round(pipeline_rate / loop_rate, 1),
        "pandas_reference_with_profile_messages_per_second": round(len(small) / naive_profile),
        "speedup_builder_vs_pandas_reference_with_profile": round(naive_profile / fast_profile, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
