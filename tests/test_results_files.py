"""Results files: every one is made by `make results` and stamped with its platform
(benchmarks/platform_record.py)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "platform_record", ROOT / "benchmarks" / "platform_record.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_names_torch_cpu_blas_and_threads() -> None:
    where = load_script().record()
    for key in ("torch", "cpu", "cpu_capability", "blas", "torch_threads"):
        assert where[key] not in (None, "")
    assert isinstance(where["torch_threads"], int) and where["torch_threads"] >= 1


def test_stamp_adds_the_record_to_a_summary_and_to_each_summary_of_a_sweep(
    tmp_path: Path,
) -> None:
    script = load_script()
    one, sweep = tmp_path / "one.json", tmp_path / "sweep.json"
    one.write_text(json.dumps({"runs": 2}))
    sweep.write_text(json.dumps([{"runs": 2}, {"runs": 3}]))
    where = {"torch": "x", "cpu": "y"}
    script.stamp(str(one), where)
    script.stamp(str(sweep), where)
    assert json.loads(one.read_text()) == {"runs": 2, "platform": where}
    assert [s["platform"] for s in json.loads(sweep.read_text())] == [where, where]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "sweep.json"]


def test_every_results_file_is_stamped() -> None:
    files = sorted((ROOT / "results").glob("*.json"))
    assert files, "results/ holds no JSON"
    for path in files:
        payload = json.loads(path.read_text())
        for summary in payload if isinstance(payload, list) else [payload]:
            assert "torch" in summary.get("platform", {}), f"{path.name} records no platform"


def test_make_results_writes_every_stored_file() -> None:
    """Notebooks 09 and 10 read results/ only; nbval fails when a file they read is missing."""
    makefile = (ROOT / "Makefile").read_text()
    stored = {p.name for p in (ROOT / "results").glob("*.json")}
    written = set(re.findall(r"results/(\w+\.json)", makefile))
    assert stored <= written, f"in results/ but not made by `make results`: {stored - written}"
