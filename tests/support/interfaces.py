"""Validators of the documented interfaces, with the tools of their own standards: the
AsyncAPI Initiative's parser (Node; `.ci/run` installs it under .ci/node) and
openapi-spec-validator.

Without Node or the parser the tests skip with the reason, and fail when the run requires the
services (CI sets BOTGATE_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate as validate_openapi_document

from gateway import codec
from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
NODE_TOOLS = ROOT / ".ci" / "node"
ASYNCAPI_SCRIPT = Path(__file__).with_name("validate_asyncapi.cjs")
OPENAPI_FILE = ROOT / "gateway" / "http" / "openapi.json"  # the admin API's, when it is a file


def asyncapi_diagnostics(document: dict[str, Any]) -> dict[str, Any]:
    """What `@asyncapi/parser` says about the document: {"parsed": bool, "diagnostics": [...]}
    with severity 0 errors, 1 warnings, 2 information, 3 hints."""
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not installed: the AsyncAPI document is validated with Node")
    if not (NODE_TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir():
        unavailable(f"@asyncapi/parser is not installed: run `npm install --prefix {NODE_TOOLS}`")
    result = subprocess.run(  # noqa: S603 (our own script, our own document)
        [str(node), str(ASYNCAPI_SCRIPT), str(NODE_TOOLS)],
        input=codec.dumps(document),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"the AsyncAPI parser failed: {result.stderr.decode()}")
    answer: dict[str, Any] = codec.loads(result.stdout)
    return answer


def validate_openapi(document: dict[str, Any]) -> None:
    """Raise (openapi_spec_validator's OpenAPIValidationError) unless the document is valid
    OpenAPI (3.0, 3.1 or 3.2, by its `openapi` field)."""
    validate_openapi_document(document)
