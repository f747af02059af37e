"""The OpenAPI document describes every route the app serves, and nothing else."""

import re


def openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", flask_rule)


def test_every_route_and_method_is_documented(app, client):
    document = client.get("/api/openapi.json").json
    assert document["openapi"].startswith("3.1")
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served


def test_every_reference_resolves(client):
    document = client.get("/api/openapi.json").json

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
