"""The service's vocabulary, which depends on nothing else of it: time (clock.py, the UTC day
and ISO week: periods.py), places (regions.py), the board's one order (order.py), errors and
their one shape (errors.py), what the API accepts (contract.py, names.py) and the metric
series every package counts on (meters.py)."""

from . import clock, contract, errors, meters, names, order, periods, regions

__all__ = ["clock", "contract", "errors", "meters", "names", "order", "periods", "regions"]
