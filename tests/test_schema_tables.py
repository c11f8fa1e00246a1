"""cpp/src/model/schema_tables.inc is generated from the installed TFLite schema.

tools/gen_schema_tables.py derives the field slots, types, defaults, enum values and
option-table layouts that the C++ model verifier uses from the flatc-generated
ai_edge_litert/schema_py_generated.py. Regenerating must reproduce the committed file
byte for byte; when it does not (a new ai-edge-litert, or a hand edit), this test fails
and shows the diff. Regenerate with: python tools/gen_schema_tables.py
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
GENERATOR = REPO / "tools" / "gen_schema_tables.py"
COMMITTED = REPO / "cpp" / "src" / "model" / "schema_tables.inc"

pytest.importorskip("ai_edge_litert.schema_py_generated")


def _generate(tmp_path: pathlib.Path) -> str:
    out = tmp_path / "schema_tables.inc"
    subprocess.run([sys.executable, str(GENERATOR), "-o", str(out)], check=True, cwd=tmp_path)
    return out.read_bytes().decode("utf-8")


@pytest.mark.skipif(not GENERATOR.exists(), reason="source tree not available")
def test_schema_tables_regenerate_byte_for_byte(tmp_path):
    generated = _generate(tmp_path)
    committed = COMMITTED.read_bytes().decode("utf-8")
    if generated != committed:
        import difflib
        diff = "".join(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True),
                                            str(COMMITTED), "regenerated", n=1))
        pytest.fail(f"{COMMITTED.name} differs from what tools/gen_schema_tables.py generates from the "
                    f"installed schema; regenerate it.\n{diff[:6000]}")


@pytest.mark.skipif(not GENERATOR.exists(), reason="source tree not available")
def test_check_mode_detects_drift(tmp_path):
    """--check exits 1 on a drifted file (so the test above is not vacuous)."""
    drifted = tmp_path / "drifted.inc"
    drifted.write_text(COMMITTED.read_text(encoding="utf-8").replace('"1441441"', '"1441442"', 1),
                       encoding="utf-8")
    ok = subprocess.run([sys.executable, str(GENERATOR), "--check", "-o", str(COMMITTED)], capture_output=True)
    bad = subprocess.run([sys.executable, str(GENERATOR), "--check", "-o", str(drifted)], capture_output=True,
                         text=True)
    assert ok.returncode == 0, ok.stdout
    assert bad.returncode == 1 and "1441442" in bad.stdout


def test_generated_facts_match_the_schema_module():
    """Spot checks against the generated Python accessors themselves."""
    from ai_edge_litert import schema_py_generated as s
    text = COMMITTED.read_text(encoding="utf-8")
    assert f"BuiltinOperator_CONV_2D = {s.BuiltinOperator.CONV_2D}," in text
    assert f"BuiltinOptions_Conv2DOptions = {s.BuiltinOptions.Conv2DOptions}," in text
    # Operator.debug_metadata_index: slot 13 (vtable offset 30), default -1.
    assert "static constexpr fb::ScalarField<int32_t> DebugMetadataIndex{13, -1};" in text
