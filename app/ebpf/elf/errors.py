"""``ElfError``: an object file the playground cannot load, with the reason in words a user can act on."""
from __future__ import annotations

from ..errors import EbpfError


class ElfError(EbpfError):
    """A malformed or unsupported ELF object. ``section`` names the section concerned ("" when none)."""

    def __init__(self, message: str, section: str = ""):
        self.message, self.section = message, section
        super().__init__(f"section {section}: {message}" if section else message)

    def to_json(self) -> dict:
        return {"kind": "ElfError", "message": self.message, "section": self.section}
