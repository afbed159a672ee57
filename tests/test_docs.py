"""The README documents every setting and both Quick start commands, and they exist."""

import re
from pathlib import Path

import msgspec

from citadel.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(CITADEL_[A-Z0-9_]+)`", README))
    settings = {f"CITADEL_{field.name.upper()}" for field in msgspec.structs.fields(Settings)}
    assert settings - documented == set()
    load_suite = {name for name in documented if name.startswith("CITADEL_LOAD_")}  # Locust's, not the app's
    assert (
        documented - settings - {"CITADEL_NO_EXTENSIONS"} - load_suite == set()
    )  # nothing documented that does not exist


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first_block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["./dev run", "./dev test"]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "exec ./dev test" in ci
