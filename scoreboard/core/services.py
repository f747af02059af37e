"""What the gate and identity still find by name (being moved to their own init_app)."""

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

_KEY = "scoreboard.services"


@dataclass
class Services:
    blocklist: Any
    limits: Any


def register(app: Flask, built: Services) -> None:
    app.extensions[_KEY] = built


def services(app: Flask | None = None) -> Services:
    return (app or current_app).extensions[_KEY]
