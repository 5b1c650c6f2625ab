"""bench/import_scale.py imports what `userman export --show-sensitive` writes: its generated
script, imported and exported again, comes back line for line."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from import_scale import export_lines

from userman.cli.script import export_script, import_script
from userman.services import Actor, Userman


def test_the_generated_script_is_an_export(tmp_path: Path) -> None:
    app = Userman(f"sqlite:///{tmp_path / 'bench.db'}")
    app.prepare()
    try:
        script = "".join(export_lines(5))
        import_script(app, Actor.superuser(), script)
        exported = export_script(app, Actor.superuser(), show_sensitive=True)
    finally:
        app.close()
    lines = exported.splitlines()
    assert lines[:2] == ["/tool user-manager customer", lines[1]]  # admin, as every database
    assert lines[2:] == script.splitlines()
