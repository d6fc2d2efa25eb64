"""The package installs with pip from the repository path into a FRESH virtual environment, and
the installed copy (not this source tree) seals and opens a test vector of
docs/payload-format.md. The build is isolated (pip fetches setuptools and wheel from the
package index, as it does for any user); dependencies come from the index too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = Path(__file__).resolve().parents[1]

CHECK = r"""
import importlib.metadata, json, pathlib, sys
import engram_codec
from engram_codec import DataKey, EncryptionCodec, Keyring, SealCounter
from engram_codec.format import open_sealed, seal
from temporalio.api.common.v1 import Payload

v = json.loads(sys.argv[1])
h = bytes.fromhex
sealed = seal(h(v["key"]), v["key_id"], v["namespace"], h(v["inner_payload"]), salt=h(v["salt"]), nonce=h(v["nonce"]))
assert sealed.hex() == v["sealed_data"], "seal reproduces the vector"
assert open_sealed(h(v["key"]), v["key_id"], sealed, v["namespace"]).hex() == v["inner_payload"]
codec = EncryptionCodec(Keyring([DataKey(v["key_id"], h(v["key"]))]), namespace=v["namespace"], seal_counter=SealCounter())
original = Payload(metadata={"encoding": b"json/plain"}, data=b"42")
assert codec.decode_one(codec.encode_one(original)) == original
here = pathlib.Path(engram_codec.__file__).parent
print(json.dumps({
    "file": str(here),
    "typed": (here / "py.typed").exists(),
    "version": importlib.metadata.version("engram-codec"),
    "module_version": engram_codec.__version__,
    "requires": importlib.metadata.requires("engram-codec"),
}))
"""


def vector_v2() -> dict[str, str]:
    doc = (ROOT / "docs" / "payload-format.md").read_text()
    for block in re.findall(r"```text\n(vector:.*?)```", doc, re.S):
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
        if fields["version"] == "2":
            return fields
    raise AssertionError("no version 2 vector")


def run(command: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def remove_build_output() -> None:
    """setuptools builds in the source tree; stale files in build/ would end up in the wheel."""
    shutil.rmtree(PACKAGE / "build", ignore_errors=True)
    for info in PACKAGE.glob("*.egg-info"):
        shutil.rmtree(info, ignore_errors=True)


def test_pip_install_from_the_repository_path_into_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    remove_build_output()
    try:
        run([str(python), "-m", "pip", "install", "--quiet", str(PACKAGE)], tmp_path)
    finally:
        remove_build_output()
    found = json.loads(run([str(python), "-c", CHECK, json.dumps(vector_v2())], tmp_path))
    assert Path(found["file"]).is_relative_to(venv), f"imported from the venv, not the source tree: {found['file']}"
    assert found["typed"], "py.typed is installed"
    # The package is released with the provider, at the provider's version (Cargo.toml).
    project = re.search(r'(?m)^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text()).group(1)
    assert found["version"] == found["module_version"] == project
    requires = found["requires"]
    assert any(r.startswith("temporalio") for r in requires) and any(r.startswith("cryptography") for r in requires)
    assert any(r.startswith("boto3") and 'extra == "aws"' in r for r in requires), requires
    assert not any("azure" in r or "google" in r for r in requires), "Azure and GCP need no SDK"
