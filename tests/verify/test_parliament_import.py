"""iam.parliament loads parliament without pkg_resources (iam_documents._import_parliament, a plan-speed
change): the findings on every IAM document of the prod plan, and on seeded faulty ones, are the same
whether parliament found its data files through the stand-in or through the real pkg_resources.

Each side runs in a fresh interpreter, since parliament loads its data once per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pulumi_llm.verify.rules import iam_documents

# Reads documents (kind, text) from argv[1]; argv[2] == "real" imports pkg_resources first, so
# parliament gets the real one. Prints the findings, whether pkg_resources is loaded, and the data paths.
SIDE = """
import json, sys, warnings
if sys.argv[2] == "real":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pkg_resources  # noqa: F401
from pulumi_llm.verify.rules import iam_documents
docs = json.loads(open(sys.argv[1]).read())
findings = [iam_documents.errors_in(text, kind) for kind, text in docs]
import parliament
print(json.dumps({
    "findings": findings,
    "pkg_resources": "pkg_resources" in sys.modules,
    "paths": [parliament.iam_definition_path, parliament.config_path],
    "services": len(parliament.iam_definition),
}))
"""


def _side(docs: Path, how: str) -> dict:
    result = subprocess.run([sys.executable, "-c", SIDE, str(docs), how], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_prod_findings_are_the_same_with_and_without_pkg_resources(recorded, tmp_path: Path) -> None:
    view = recorded("prod")
    arns = iam_documents.real_arns(view)
    docs = [(doc.kind, iam_documents.realistic(doc.text, arns)) for doc in iam_documents.documents(view)]
    assert len(docs) > 20  # prod has role, trust, key, bucket and secret policies
    faulty = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Typo", "Effect": "Allow", "Action": "logs:PutLogEvent", "Resource": "*"},
            {
                "Sid": "ClusterIsNoService",
                "Effect": "Allow",
                "Action": "ecs:UpdateService",
                "Resource": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            },
            {
                "Sid": "BadOperator",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEqualz": {"aws:SourceVpc": "v"}},
            },
        ],
    }
    docs.append(("identity", json.dumps(faulty)))
    path = tmp_path / "docs.json"
    path.write_text(json.dumps(docs))

    fast, real = _side(path, "fast"), _side(path, "real")

    assert fast["pkg_resources"] is False
    assert real["pkg_resources"] is True
    assert fast["paths"] == real["paths"]
    assert fast["services"] == real["services"] > 300
    assert fast["findings"] == real["findings"]
    issues = {issue for issue, _ in fast["findings"][-1]}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH", "UNKNOWN_OPERATOR"} <= issues
    assert all(found == [] for found in fast["findings"][:-1])  # prod's own documents pass (verify --all is clean)
