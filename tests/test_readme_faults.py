"""The README's "Faults and bad input" table and the fault-injection suite name the same tests."""

import ast
import re

from snakemake_run import REPO


def suite_tests() -> set[str]:
    found = set()
    for path in sorted((REPO / "tests").glob("test_faults_*.py")):
        tree = ast.parse(path.read_text())
        found |= {f"{path.name}::{node.name}" for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return found


def readme_tests() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Faults and bad input", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(test_faults_\w+\.py::test_\w+)`", section))


def test_every_fault_test_has_a_row_and_every_row_a_test():
    suite, readme = suite_tests(), readme_tests()
    assert suite, "no fault tests found"
    assert not suite - readme, f"fault tests without a README row: {sorted(suite - readme)}"
    assert not readme - suite, f"README rows naming no test: {sorted(readme - suite)}"
