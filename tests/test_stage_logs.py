"""The stage adapter: a failing job's log file holds the error that failed it."""

from types import SimpleNamespace

import pytest

from canguard.stages import run_job


class Named(dict):
    """What a Snakemake Namedlist offers run_job: named entries."""


def job(rule: str, log, **params):
    return SimpleNamespace(rule=rule, log=[str(log)], threads=1, input=Named(), output=Named(catalog="x.json"),
                           params=Named(params), wildcards=Named(dataset="ds", run="test"))


def test_the_error_that_fails_a_job_is_in_its_log(tmp_path):
    log = tmp_path / "catalog.log"
    missing = tmp_path / "no_such_root"
    with pytest.raises(FileNotFoundError):
        run_job(job("catalog", log, root=str(missing), vehicles={}, train_with={}))
    text = log.read_text()
    assert "rule catalog ({'dataset': 'ds', 'run': 'test'}) failed: FileNotFoundError" in text
    assert f"root folder {missing} does not exist" in text
    assert "Traceback" in text


def test_an_unknown_rule_is_named_in_the_log(tmp_path):
    log = tmp_path / "x.log"
    with pytest.raises(KeyError):
        run_job(job("no_such_rule", log))
    assert "rule 'no_such_rule' has no stage module" in log.read_text()
