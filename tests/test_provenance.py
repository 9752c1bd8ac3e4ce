"""Code versions: every rule has a stage module, and a module edit changes exactly the versions of the
rules whose stage imports it (directly or not)."""

import re
import shutil

import pytest
from snakemake_run import REPO

from canguard import provenance


def _rules() -> dict[str, str]:
    """rule name -> its block of text (unindented), from every workflow/rules/*.smk; a rule may sit inside an
    ``if`` (defined only when the config asks for what it makes)."""
    blocks = {}
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^( *)(?:rule|checkpoint) (\w+):\n(.*?)(?=^\1?\S|\Z)", text, re.S | re.M):
            blocks[m.group(2)] = ("\n" + m.group(3)).replace("\n" + m.group(1), "\n")
    return blocks


def test_every_rule_runs_its_stage_and_carries_its_code_version():
    rules = _rules()
    assert len(rules) >= 19
    for name, body in rules.items():
        assert 'script:\n        "../scripts/run_stage.py"' in body, name
        assert f'code=code_version("{name}")' in body, name
    assert sorted(rules) == provenance.stage_rules()


def test_a_rule_without_stage_has_no_code_version():
    with pytest.raises(KeyError, match="no stage module"):
        provenance.code_version("no_such_rule")


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the canguard sources that provenance reads instead of the real ones."""
    copy = tmp_path / "canguard"
    shutil.copytree(provenance.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE", copy)
    provenance.import_closure.cache_clear()
    provenance.code_version.cache_clear()
    yield copy
    provenance.import_closure.cache_clear()
    provenance.code_version.cache_clear()


def _versions() -> dict[str, str]:
    provenance.import_closure.cache_clear()
    provenance.code_version.cache_clear()
    return {rule: provenance.code_version(rule) for rule in provenance.stage_rules()}


@pytest.mark.parametrize("module, expected", [
    # the summary tables: only the summary
    ("evaluation/summary.py", {"summary"}),
    # the alarm rule: the two rules that judge alarms (the figures read the alarms tables), and the export
    # (a detector takes its thresholds by the rule's names)
    ("evaluation/alarms.py", {"evaluate", "evaluate_fusion", "export"}),
    # the relative features: everything that builds graphs or reads a trained model, not the split or the
    # profiles, which read only the windows' messages and labels
    ("graphs/relative.py", {"preprocessing", "shards", "train",
                            "find_batch_size", "find_lr", "score", "score_rules", "efficiency", "export"}),
    # the window grid: everything that cuts a recording into windows
    ("graphs/windows.py", {"split", "vehicle_profile", "enroll", "preprocessing", "shards", "train", "find_batch_size",
                           "find_lr", "score", "score_rules", "efficiency", "export"}),
])
def test_editing_a_module_changes_exactly_the_rules_that_import_it(package_copy, module, expected):
    before = _versions()
    with open(package_copy / module, "a") as f:
        f.write("\n# an edit\n")
    after = _versions()
    assert {r for r in before if before[r] != after[r]} == expected
