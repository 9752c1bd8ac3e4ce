"""The deployment commands: export, enroll, detect, replay (``canguard <command> --help``).

    canguard export results/default/models/synthetic/gat_student/seed0
    canguard enroll --model results/default/detectors/synthetic/gat_student/seed0 --vehicle delta benign.log
    canguard detect --model DIR --vehicle delta capture.log            # a log, as fast as it goes
    canguard detect --model DIR --vehicle delta --realtime capture.log # at recorded speed
    canguard detect --model DIR --bus socketcan:vcan0                  # a live bus (python-can)
    candump -L vcan0 | canguard detect --model DIR -                   # candump lines on stdin
    canguard replay capture.log --bus virtual:demo --realtime          # a log onto a bus
    canguard keygen signing                                            # signing (0600) + signing.pub
    canguard export MODEL_DIR --sign signing; canguard detect --model DIR --trust signing.pub capture.log

``detect`` prints one JSON line per alarm (every window with ``--all-windows``) on stdout and
its report (messages, rejects by reason, unknown IDs, silences, windows, alarms, speed) on
stderr and in ``--report FILE``.  Exit status: 0 when the input was read to its end (bad
lines and frames are counted, not fatal), 2 when the input or the detector is unusable (a detector folder
is checked as a whole before a message is read: :mod:`canguard.deploy.bundle`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("canguard.detect")


def positive(kind):
    """An argparse type: a finite number > 0 of ``kind`` (float or int); NaN, inf, 0 and negatives refused."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number > 0")
        return value
    return parse


def add_commands(sub) -> dict:
    e = sub.add_parser("export", help="a trained model -> a self-contained detector folder (ONNX) for detect")
    e.add_argument("model_dir", help="results/<run>/models/<dataset>/<model>/seed<k> (holding best.ckpt); "
                   "<model> rules: the rule baseline (nothing trained, the folder need not exist)")
    e.add_argument("--out", help="detector folder (default results/<run>/detectors/<dataset>/<model>/seed<k>)")
    e.add_argument("--preprocessing", help="default: results/<run>/preprocessing/<dataset>/preprocessing.json")
    e.add_argument("--thresholds", help="default: results/<run>/evaluation/<dataset>/<model>/seed<k>/thresholds.json")
    e.add_argument("--val", help="validation shards the export is checked on (default results/<run>/shards/"
                   "<dataset>/val)")
    e.add_argument("--profiles", help="folder with training/ and enrolled/ vehicle profiles (default "
                   "results/<run>/profiles/<dataset>)")
    e.add_argument("--sign", metavar="KEY", help="sign the folder with this Ed25519 private key (canguard keygen)")
    n = sub.add_parser("enroll", help="a new vehicle's profile and threshold, from benign logs of its own")
    n.add_argument("logs", nargs="+", help="benign logs of the vehicle, any format canguard ingests")
    n.add_argument("--model", required=True, help="detector folder (canguard export)")
    n.add_argument("--vehicle", required=True, help="the vehicle's name (detect --vehicle)")
    n.add_argument("--seconds", type=positive(float), help="only the first SECONDS of each log (default: all of it)")
    n.add_argument("--false-alarms-per-hour", type=positive(float), help="threshold budget (default: the detector's)")
    n.add_argument("--out", metavar="DIR", help="write a new detector folder (a copy with the vehicle added) "
                   "instead of adding the vehicle to the folder read")
    n.add_argument("--sign", metavar="KEY", help="sign the folder after the vehicle is added (Ed25519 private key); "
                   "without it a signed folder's signature is removed")
    n.add_argument("--trust", metavar="PUBKEY", help="accept the detector only if signed by this public key")
    d = sub.add_parser("detect", help="judge CAN traffic (a log, stdin, a live bus): JSON alarm lines")
    d.add_argument("input", nargs="?", help="a CAN log (any format canguard ingests), or - for candump lines on stdin")
    d.add_argument("--model", required=True, help="detector folder (canguard export)")
    d.add_argument("--bus", help="a live bus instead of a log: INTERFACE:CHANNEL (socketcan:vcan0, virtual:demo, "
                   "udp_multicast:239.74.163.2)")
    d.add_argument("--vehicle", help="the vehicle the traffic is from (enrolled or training); default: judged "
                   "without a profile")
    d.add_argument("--protocol", choices=["enrolled", "zero_shot"], help="force one where a vehicle has both")
    d.add_argument("--trust", metavar="PUBKEY", help="accept the detector only if signed by this Ed25519 public key "
                   "(PEM, or OpenSSH ssh-ed25519)")
    d.add_argument("--realtime", action="store_true", help="a log at recorded speed, not as fast as possible")
    d.add_argument("--all-windows", action="store_true", help="a line for every window, not only alarms")
    d.add_argument("--report", help="write the run's report (JSON) here too")
    d.add_argument("--threads", type=positive(int), default=1, help="onnxruntime threads")
    d.add_argument("--batch-windows", type=positive(int), default=64, help="windows scored together at most (64: the "
                   "fastest with onnxruntime on one core, benchmarks/detect_throughput.py)")
    d.add_argument("--idle", type=positive(float), default=1.0, help="seconds without a message that count as a "
                   "silence (wall clock on a bus or stdin; in message time for every input: the report's time.gaps)")
    d.add_argument("--stop-after-idle", type=positive(float), help="bus/stdin: end after this many silent seconds")
    r = sub.add_parser("replay", help="send a CAN log onto a python-can bus (as fast as possible or --realtime)")
    r.add_argument("log", help="a CAN log, any format canguard ingests")
    r.add_argument("--bus", required=True, help="INTERFACE:CHANNEL")
    r.add_argument("--realtime", action="store_true", help="at recorded speed")
    k = sub.add_parser("keygen", help="a new Ed25519 key pair for signing detector folders (NAME, NAME.pub)")
    k.add_argument("name", help="private key file (written with mode 0600); the public key goes to NAME.pub")
    return {"export": _export, "enroll": _enroll, "detect": detect_main, "replay": _replay, "keygen": _keygen}


def _fail(command: str, e: Exception) -> int:
    print(f"canguard {command}: {e}", file=sys.stderr)
    return 2


def workflow_paths(model_dir: Path) -> dict:
    """The artefacts of a workflow model folder ``results/<run>/models/<dataset>/<model>/seed<k>``."""
    model_dir = Path(model_dir)
    if len(model_dir.parts) < 5 or model_dir.parents[2].name != "models":
        raise ValueError(f"{model_dir}: expected results/<run>/models/<dataset>/<model>/seed<k> (or give "
                         f"--preprocessing, --thresholds, --val, --profiles and --out)")
    seed, model, dataset, run = model_dir.name, model_dir.parent.name, model_dir.parents[1].name, model_dir.parents[3]
    return {"preprocessing": run / "preprocessing" / dataset / "preprocessing.json",
            "thresholds": run / "evaluation" / dataset / model / seed / "thresholds.json",
            "val": run / "shards" / dataset / "val", "profiles": run / "profiles" / dataset,
            "out": run / "detectors" / dataset / model / seed, "name": model}


def _export(args) -> int:
    from canguard.deploy.bundle import DetectorError, export_detector, export_rule_detector
    from canguard.detectors import RULES
    from canguard.logs import setup_logging

    setup_logging(None)
    model_dir = Path(args.model_dir)
    try:
        given = {k: getattr(args, k) for k in ("preprocessing", "thresholds", "val", "profiles", "out")}
        paths = {**workflow_paths(model_dir), **{k: Path(v) for k, v in given.items() if v}} \
            if not all(given.values()) else {**{k: Path(v) for k, v in given.items()}, "name": model_dir.parent.name}
        ckpt = model_dir / "best.ckpt"
        for what in ("preprocessing", "thresholds", "val"):
            if not paths[what].exists():
                raise FileNotFoundError(f"{paths[what]}: missing ({what} of {model_dir}); run the workflow up to "
                                        f"its evaluation first")
        profiles = lambda kind: {p.stem: p for p in sorted((paths["profiles"] / kind).glob("*.json"))}  # noqa: E731
        if paths["name"] == RULES:  # nothing trained: the rule baseline under the run's preprocessing
            manifest = export_rule_detector(paths["preprocessing"], paths["thresholds"], paths["val"], paths["out"],
                                            training_profiles=profiles("training"), enrollments=profiles("enrolled"),
                                            sign_key=args.sign)
        else:
            manifest = export_detector(ckpt, paths["preprocessing"], paths["thresholds"], paths["val"], paths["out"],
                                       name=paths["name"], training_profiles=profiles("training"),
                                       enrollments=profiles("enrolled"), sign_key=args.sign)
    except (OSError, ValueError, DetectorError) as e:
        return _fail("export", e)
    print(json.dumps({"detector": str(paths["out"]), "detector_id": manifest["detector_id"],
                      "check": manifest["onnx"]["check"], "vehicles": manifest["vehicles_at_export"]}, indent=1))
    return 0


def _enroll(args) -> int:
    from canguard.deploy.bundle import DetectorBundle
    from canguard.deploy.enroll import enroll_vehicle
    from canguard.logs import setup_logging

    setup_logging(None)
    try:
        entry, path = enroll_vehicle(DetectorBundle(args.model, trust=args.trust), args.vehicle, args.logs,
                                     args.seconds, args.false_alarms_per_hour, out=args.out, sign_key=args.sign)
    except (OSError, ValueError) as e:
        return _fail("enroll", e)
    print(json.dumps({"vehicle": args.vehicle, "file": str(path), "threshold": entry["threshold"],
                      "report": entry["source"]["report"]}, indent=1))
    return 0


def _keygen(args) -> int:
    from canguard.deploy.integrity import IntegrityError, generate_keys, key_id, load_public_key, public_key_bytes

    try:
        private, public = generate_keys(args.name)
    except (OSError, IntegrityError) as e:
        return _fail("keygen", e)
    print(json.dumps({"private_key": str(private), "public_key": str(public),
                      "key_id": key_id(public_key_bytes(load_public_key(public)))}, indent=1))
    return 0


def _replay(args) -> int:
    from canguard.deploy.sources import SourceError, open_bus, replay

    try:
        bus = open_bus(args.bus)
    except SourceError as e:
        return _fail("replay", e)
    try:
        counts = replay(args.log, bus, realtime=args.realtime)
    except (OSError, ValueError) as e:
        return _fail("replay", e)
    finally:
        bus.shutdown()
    print(json.dumps(counts), file=sys.stderr)
    return 0


def detect_main(args, out=None, ready: threading.Event | None = None, stop: threading.Event | None = None) -> int:
    """``canguard detect``; ``out``: where the JSON lines go (stdout); ``ready`` is set once the input is
    open (a bus: listening), ``stop`` ends a bus or stdin stream (tests, embedding)."""
    from canguard.deploy.bundle import DetectorBundle, DetectorError
    from canguard.deploy.detector import StreamingDetector
    from canguard.deploy.sources import SourceError, bus_chunks, file_chunks, open_bus, stdin_chunks
    from canguard.ingest.result import NotCanDataError
    from canguard.logs import setup_logging
    from canguard.training.stopping import StopRequests

    setup_logging(None)
    out = out or sys.stdout
    if (args.input is None) == (args.bus is None):
        return _fail("detect", ValueError("give a log (or - for stdin) or --bus INTERFACE:CHANNEL, not both"))
    bus = None
    try:
        bundle = DetectorBundle(args.model, trust=args.trust)
        judging = bundle.judging(args.vehicle, args.protocol)
        if judging.profile is None:
            log.warning("no --vehicle: windows are judged without a vehicle profile (zero-shot on an unknown "
                        "vehicle); enrol the vehicle for the enrolled protocol")
        detector = StreamingDetector(bundle, judging, bundle.scorer(args.threads), args.all_windows, args.batch_windows,
                                     idle_s=args.idle)

        # end the stream cleanly, report written
        stopped = StopRequests((signal.SIGINT, signal.SIGTERM), "ending the input, then writing the report")

        def should_stop() -> bool:
            return stopped.requested or (stop is not None and stop.is_set())

        def silent(seconds: float) -> None:
            if detector.silence(seconds):
                log.warning("no message for %.1f s", seconds)

        if args.bus:
            bus = open_bus(args.bus)
            chunks = bus_chunks(bus, args.idle, args.stop_after_idle, on_silence=silent, stop=should_stop)
        elif args.input == "-":
            chunks = stdin_chunks(idle_s=args.idle, on_silence=silent, stop=should_stop,
                                  stop_after_idle=args.stop_after_idle)
        else:
            chunks = file_chunks(args.input, realtime=args.realtime)
        if ready is not None:
            ready.set()
        with stopped:
            for chunk in chunks:
                for line in detector.push(chunk):
                    out.write(json.dumps(line) + "\n")
                out.flush()
                if should_stop():
                    break
    except (DetectorError, SourceError, NotCanDataError, FileNotFoundError) as e:
        return _fail("detect", e)
    except BrokenPipeError:  # the reader went away (| head): not an error of the input
        sys.stderr.close()
        return 0
    finally:
        if ready is not None:
            ready.set()
        if bus is not None:
            bus.shutdown()
    report = detector.finish() | {"integrity": bundle.verified}
    print(json.dumps(report), file=sys.stderr)
    if args.report:
        from canguard.atomic import write_text

        write_text(args.report, json.dumps(report, indent=1) + "\n")
    if report["messages"] == 0 and report["rejected"] > 0:  # not one line of it was a CAN frame
        first = report["first_rejects"][0]
        where = "<stdin>" if args.input == "-" else args.input or args.bus
        return _fail("detect", ValueError(f"{where}:{first['line']}: no CAN frame in {report['rejected']} line(s) "
                                          f"or frame(s) read ({first['reason']})"))
    return 0

