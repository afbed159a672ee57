"""Text helpers shared by every domain: slugs and search words."""

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def slugify(text: str, max_length: int = 100) -> str:
    """Lower-case ASCII words joined by hyphens (``"Café Crème 2"`` → ``"cafe-creme-2"``)."""
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return "-".join(_WORD.findall(folded))[:max_length].strip("-")


def squash(text: str) -> str:
    """Inner runs of whitespace as one space, none at the ends."""
    return " ".join(text.split())
