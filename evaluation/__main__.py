"""``python -m evaluation`` (installed as ``orchestrator-eval``): check the extra, run the CLI."""

from __future__ import annotations

import importlib.util
import sys

from app.shutdown import stop_on_sigterm

# The `eval` extra: rich draws the progress bar and table, matplotlib the PNG. Checked before the
# run starts, so a missing one is said at once and not after an hour of model calls.
EXTRA_MODULES = ("rich", "matplotlib")


def run() -> int:
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"eval: {' and '.join(missing)} not installed (the `eval` extra)\n"
            "  hint: pip install -e '.[eval]'",
            file=sys.stderr,
        )
        return 2
    from evaluation.cli import main  # imports rich: only once it is known to be there

    stop_on_sigterm()  # the model server it may start must not outlive it
    return main()


if __name__ == "__main__":
    sys.exit(run())
