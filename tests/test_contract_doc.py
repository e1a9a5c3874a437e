"""docs/CONTRACT.md, the contract clients read, stays true to the code: every operation the
server has is in it and nothing else, every event type, and every close code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

from notifications.models import EventType
from numeneon import limits

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = (ROOT / "docs" / "CONTRACT.md").read_text()


def documented_operations() -> set[tuple[str, str]]:
    """(method, path) of every table row under a section heading that names a path prefix."""
    operations, prefix = set(), None
    for line in CONTRACT.splitlines():
        heading = re.match(r"#+ .*`(/api/[^`]*)`", line)
        if heading:
            prefix = heading.group(1)
        elif line.startswith("#"):
            prefix = None if line.startswith("## ") else prefix
        for method, path in re.findall(r"\| (GET|POST|PATCH|PUT|DELETE) `([^`]*)`", line):
            assert prefix, f"an operation outside an API section: {line}"
            path = re.sub(r"<([^>]+)>", r"{\1}", (prefix + path).split("?")[0])
            operations.add((method.lower(), path))
    return operations


def test_every_operation_of_the_server_is_in_the_contract_and_nothing_else():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    served = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert documented_operations() == served


def test_every_event_type_is_in_the_contract():
    documented = set(re.findall(r"^\| `([a-z_]+)` \| ", CONTRACT, flags=re.MULTILINE))
    assert {str(t) for t in EventType} <= documented


def test_every_close_code_is_in_the_contract_and_defined_in_numeneon_limits_only():
    section = CONTRACT.split("### Close codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d{4}) \|", section, flags=re.M)}
    defined = {value for name, value in vars(limits).items() if name.startswith("CLOSE_")}
    assert defined == documented
    elsewhere = subprocess.run(
        ["git", "grep", "-n", "-E", r"^\s*CLOSE_[A-Z_]+\s*=", "--", "*.py", ":!numeneon/limits.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert elsewhere == ""


def test_no_file_of_the_repository_points_outside_it():
    tracked = subprocess.run(
        ["git", "grep", "-l", "-F", "-e", "../" + "shared/", "--", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert tracked == []
