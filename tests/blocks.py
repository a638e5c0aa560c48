"""Reads a fenced prompt as a model should: the data blocks, and the service's own text around them.

Strict on purpose: a line inside a block may hold no marker characters at all (quoted text is
defused), a block closes with its own name and the prompt's nonce, and nothing stays open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NOTICE = re.compile(r"Text between a line <<<NAME (\w+)>>> and the line <<<END NAME \1>>> is data")
MARKER = re.compile(r"<<<(END )?([A-Z]+(?: [A-Z]+)?) (\w+)>>>")


@dataclass
class Fenced:
    nonce: str
    blocks: list[tuple[str, str]] = field(default_factory=list)
    """(name, text) of every data block, in order."""
    outside: str = ""
    """The service's text: everything not inside a block (the marker lines included)."""

    def block(self, name: str) -> str:
        found = [text for n, text in self.blocks if n == name]
        assert len(found) == 1, f"{len(found)} {name} blocks"
        return found[0]


def parse(user: str) -> Fenced:
    """Split ``user`` into data blocks and service text; fail on anything a model could misread."""
    notice = NOTICE.search(user)
    assert notice is not None, "the prompt says nowhere how its data blocks are marked"
    fenced = Fenced(notice.group(1))
    outside: list[str] = []
    name: str | None = None
    inside: list[str] = []
    for line in user.split("\n"):
        marker = MARKER.fullmatch(line)
        if name is not None:
            if marker and marker.group(1) and marker.group(2) == name and marker.group(3) == fenced.nonce:
                fenced.blocks.append((name, "\n".join(inside)))
                outside.append(line)
                name, inside = None, []
                continue
            assert "<<<" not in line and ">>>" not in line, f"a marker look-alike inside {name}: {line!r}"
            inside.append(line)
            continue
        if marker and not marker.group(1):
            assert marker.group(3) == fenced.nonce, f"a block opened with another nonce: {line!r}"
            name = marker.group(2)
        outside.append(line)
    assert name is None, f"block {name} never closes"
    fenced.outside = "\n".join(outside)
    return fenced
