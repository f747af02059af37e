"""The boards: views of the players (views.py), each view's top as a snapshot that this
worker holds and the shared cache keeps (leaderboard.py, local_boards.py, refresher.py), and a
player's own place on a view (ranks.py). What they need from outside comes through ports.py."""

from .ports import Ports, init_app, ports

__all__ = ["Ports", "init_app", "ports"]
