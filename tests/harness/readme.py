"""The README's code, as written there, for the tests that run it."""

import re

from .servers import ROOT

README = ROOT / "README.md"
# Where the README's examples say the service is; the tests put a real server there.
EXAMPLE_SERVICE = "https://scores.example.com"


def snippets(section: str, language: str) -> list[str]:
    """The ``language`` code blocks of the README section titled ``section``, in order."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end >= 0 else None]
    return re.findall(rf"^```{language}\n(.*?)^```$", body, re.MULTILINE | re.DOTALL)
