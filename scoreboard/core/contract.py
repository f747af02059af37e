"""What the API accepts, declared once. A route's body and query rules are objects that
both check requests (``fits``, ``read``) and render themselves as JSON Schema
(``schema(config)``) for openapi.py, so the document says exactly what the service accepts.

Patterns use only what Python's ``re`` and the document's ECMA-262 dialect read alike
(classes, ranges, counts, groups), and always match a whole value. Everything a route's
rules need is built at import: checking a request costs what a hand-written check would.
"""

import re

from flask import current_app, request

from . import names, regions
from .errors import ApiError, BadRequest

# A player's id, as tokens' ``sub`` claims and the routes carry it. ``|`` is Auth0's: its
# subjects name the connection first (``auth0|6553da60…``, ``google-oauth2|1098…``).
USER_ID = re.compile(r"[A-Za-z0-9_.@:|-]{1,64}")


class Text:
    """A string the whole of which matches ``pattern`` (and no longer than ``max_length``)."""

    kind = str

    def __init__(self, pattern: str, message: str | None = None, max_length: int | None = None,
                 description: str | None = None):
        self.regex = re.compile(pattern)
        self.message = message
        self.max_length = max_length
        self.description = description

    def fits(self, value) -> bool:
        return (isinstance(value, str) and self.regex.fullmatch(value) is not None
                and (self.max_length is None or len(value) <= self.max_length))

    def parse(self, text: str) -> str:
        return _fitting(self, text)

    def schema(self, config) -> dict:
        schema = {"type": "string", "pattern": f"^(?:{self.regex.pattern})$"}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return _described(schema, self.description)


class Name:
    """A name other players see, by the one rule for them (names.clean). What is stored
    is the service's names.checked of it: the normalised form."""

    kind = str

    def __init__(self, field: str):
        self.message = names.message(field)

    def fits(self, value) -> bool:
        if not isinstance(value, str):
            return False
        try:
            names.clean(value)
        except ValueError:
            return False
        return True

    def schema(self, config) -> dict:
        return {"type": "string", "minLength": 1, "maxLength": names.MAX_LENGTH,
                "pattern": names.pattern(),
                "description": "shown to other players: no control or format characters "
                               "(Unicode Cc, Cf, Zl, Zp), stored NFKC-normalised (fullwidth "
                               "letters or ligatures become plain ones), and at most "
                               f"{names.MAX_LENGTH} characters once normalised too"}


class Choice:
    """One of a fixed set of strings."""

    kind = str

    def __init__(self, *values: str, message: str | None = None):
        self.values = values
        self.message = message

    def fits(self, value) -> bool:
        return value in self.values

    def parse(self, text: str) -> str:
        return _fitting(self, text)

    def schema(self, config) -> dict:
        return {"enum": list(self.values)}


class Region:
    """A region code of the configured ones (``REGIONS``, else ISO 3166-1 alpha-2)."""

    kind = str
    message = "region must be a known region code, such as DE."

    def fits(self, value) -> bool:
        return isinstance(value, str) and value in regions.known(current_app.config)

    def parse(self, text: str) -> str:
        return _fitting(self, text)

    def schema(self, config) -> dict:
        return {"enum": sorted(regions.known(config))}


class Whole:
    """A whole number from ``lowest`` to ``highest``: a JSON number in a body; in a query
    string, plain digits (``default`` when the parameter is absent)."""

    kind = int

    def __init__(self, lowest: int, highest: int, default: int | None = None,
                 description: str | None = None):
        self.lowest, self.highest, self.default = lowest, highest, default
        self.digits = len(str(highest))
        self.description = description

    @property
    def message(self) -> str:
        return f"must be a whole number from {self.lowest} to {self.highest}"

    def fits(self, value) -> bool:
        return _whole(value) and self.lowest <= value <= self.highest

    def parse(self, text: str) -> int:
        """The number a query parameter spells; ValueError if it is not one in range."""
        if not (text.isascii() and text.isdigit() and len(text) <= self.digits) or not (
                self.lowest <= int(text) <= self.highest):
            raise ValueError(self.message)
        return int(text)

    def schema(self, config) -> dict:
        schema = {"type": "integer", "minimum": self.lowest, "maximum": self.highest}
        if self.default is not None:
            schema["default"] = self.default
        return _described(schema, self.description)


class Adjustment:
    """A non-zero whole number of points, at most ``ADJUST_MAX`` either way."""

    kind = int

    def fits(self, value) -> bool:
        return _whole(value) and 0 < abs(value) <= current_app.config["ADJUST_MAX"]

    @property
    def message(self) -> str:
        most = current_app.config["ADJUST_MAX"]
        return f"delta must be a whole number from -{most} to {most}, not 0."

    def schema(self, config) -> dict:
        most = config["ADJUST_MAX"]
        return {"type": "integer", "minimum": -most, "maximum": most, "not": {"const": 0},
                "description": "points to add (negative: take back); ADJUST_MAX bounds it"}


class Nullable:
    """``rule``'s values, or null."""

    def __init__(self, rule):
        self.rule = rule
        self.kind = rule.kind
        self.message = rule.message

    def fits(self, value) -> bool:
        return value is None or self.rule.fits(value)

    def schema(self, config) -> dict:
        return {"anyOf": [self.rule.schema(config), {"type": "null"}]}


class Blank:
    """A query parameter that may also be empty, which counts as not given (what an HTML
    form sends for a field left empty)."""

    def __init__(self, rule):
        self.rule = rule
        self.default = getattr(rule, "default", None)

    def parse(self, text: str):
        return self.default if text == "" else self.rule.parse(text)

    def schema(self, config) -> dict:
        return {"anyOf": [self.rule.schema(config), {"const": ""}]}


class Query:
    """Query parameters, each with its rule; one absent takes its rule's default, if any."""

    def __init__(self, **params):
        self.params = params

    def read(self, args) -> dict:
        """The values ``args`` give, parsed; ValueError naming the first bad one."""
        values = {}
        for name, rule in self.params.items():
            text = args.get(name)
            value = getattr(rule, "default", None) if text is None else parsed(name, rule, text)
            if value is not None:
                values[name] = value
        return values

    def parameters(self, config) -> list[dict]:
        return [{"name": name, "in": "query", "schema": rule.schema(config)}
                for name, rule in self.params.items()]


class Body:
    """A JSON object with the ``required`` fields, any of the ``optional`` ones (at least
    ``least`` fields in all) and nothing else, each field fitting its rule."""

    statuses = (400, 413, 415)  # what reading a body can answer

    def __init__(self, required: dict, optional: dict | None = None, least: int = 0,
                 message: str | None = None):
        self.required = required
        self.fields = {**(optional or {}), **required}
        self.least = least
        self.message = message  # for a body of fewer than ``least`` fields

    def read(self) -> dict:
        """The request's body, checked: 415 if it is not JSON, 413 past MAX_CONTENT_LENGTH,
        400 for anything else this body does not allow (fields such as ``score``, other
        types), with the field's own message where it has one."""
        asked = request._get_current_object()  # one look-up through the proxy, not two
        if not asked.is_json:
            raise ApiError(415)
        # 413 past MAX_CONTENT_LENGTH, with or without Content-Length; the parse is cached, so
        # a token looked up in the body (auth.py) costs no second one. None: not JSON, or
        # JSON nothing here could use (StrictJSON).
        body = asked.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest()
        if len(body) < self.least:
            raise BadRequest(self.message) if self.message else BadRequest()
        if not (self.required.keys() <= body.keys() <= self.fields.keys()):
            raise BadRequest()
        for name, value in body.items():
            rule = self.fields[name]
            if not rule.fits(value):
                # A field's own message says what a value of its type must be; a value of
                # another type gets the general one.
                of_kind = isinstance(value, rule.kind) and not isinstance(value, bool)
                message = rule.message if of_kind else None
                raise BadRequest(message) if message else BadRequest()
            if isinstance(value, float):  # a whole number written as 5.0
                body[name] = int(value)
        return body

    def schema(self, config) -> dict:
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {name: rule.schema(config) for name, rule in self.fields.items()}}
        if self.required:
            schema["required"] = list(self.required)
        if self.least:
            schema["minProperties"] = self.least
        return schema


def _whole(value) -> bool:
    """A JSON integer: JSON Schema counts 5.0 as one; JSON's true and false are not, though
    Python's bool is an int."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _fitting(rule, text: str) -> str:
    if not rule.fits(text):
        raise ValueError(rule.message or "is not one the service knows")
    return text


def parsed(name: str, rule, text: str):
    """``rule.parse(text)``, its ValueError naming the parameter ``name``."""
    try:
        return rule.parse(text)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None


def _described(schema: dict, description: str | None) -> dict:
    return {**schema, "description": description} if description else schema
