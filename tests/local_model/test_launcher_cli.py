"""``python -m local_model`` without the ``local`` extra: one line naming the fix, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
# A None entry in sys.modules makes `import xllamacpp` fail as on an install without the extra.
WITHOUT_EXTRA = "import sys; sys.modules['xllamacpp'] = None; from local_model.__main__ import main; "


def test_without_the_extra_it_names_the_install_command(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed program)
        [sys.executable, "-c", WITHOUT_EXTRA + f"sys.exit(main(['--port', '{port}']))"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "local model: xllamacpp (llama.cpp's server) is not installed",
        "  hint: pip install -e '.[local]' (make run does this)",
    ]
