"""Service information and health."""

from typing import Literal

from citadel.kit.structs import Model


class Info(Model):
    name: str
    version: str
    api_version: str


class Health(Model):
    status: Literal["ok"]


class Readiness(Model):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
