"""Shared fixtures: where the real data is, and small generated inputs."""

from pathlib import Path

import pytest
from snakemake_run import copy_workflow, snakemake

REPO = Path(__file__).resolve().parents[1]
HCRL_SA = REPO.parent / "shared" / "datasets" / "hcrl_sa"


@pytest.fixture(scope="session")
def hcrl_sa() -> Path:
    """The real HCRL Survival dataset beside the checkout (../shared/datasets/hcrl_sa)."""
    if not HCRL_SA.is_dir():
        pytest.skip(f"real data not found at {HCRL_SA}")
    return HCRL_SA


@pytest.fixture(scope="session")
def hcrl_sa_sample(tmp_path_factory, hcrl_sa) -> Path:
    """The first 3,000 lines of each hcrl_sa recording, same layout (small real data)."""
    root = tmp_path_factory.mktemp("hcrl_sa_sample")
    for f in sorted(hcrl_sa.glob("*/*.csv")):
        out = root / f.parent.name / f.name
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(f, "rb") as src:
            out.write_bytes(b"".join(line for _, line in zip(range(3000), src)))
    return root


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """A copy of the workflow run once on config/test.yaml (4-second recordings), shared by the modules that
    read its results (test_workflow, test_deploy); a test that changes it works on a copy."""
    work = copy_workflow(tmp_path_factory.mktemp("workflow"))
    # one thread per training job: the tiny test models gain nothing from two, and two jobs then run at once
    run = snakemake(work, "--set-threads", "train=1")
    assert run.returncode == 0, run.stderr[-3000:]
    return work
