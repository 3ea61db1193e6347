#!/usr/bin/env python3
"""Builds docs/openapi.json, the API's OpenAPI document, from docs/openapi/: base.yaml (what
every operation shares) and one file per function (its paths and schemas).

    openapi.py           writes docs/openapi.json
    openapi.py --check   fails if docs/openapi.json is not what the sources give, if two files
                         define the same path, method or schema, if a reference names nothing,
                         or if the document's operations are not exactly the template's routes
                         (method, path, function, and whether the authorizer guards them)

The handlers' route tables are checked against the document by each function's unit tests
(`shared::testing::assert_routes_documented`).
"""

import json
import pathlib
import sys

import yaml

import template

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "openapi"
OUTPUT = ROOT / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


class Invalid(Exception):
    pass


def build():
    document = yaml.safe_load((SOURCES / "base.yaml").read_text())
    paths, schemas = document["paths"], document["components"]["schemas"]
    for part in sorted(SOURCES.glob("*.yaml")):
        if part.name == "base.yaml":
            continue
        fragment = yaml.safe_load(part.read_text())
        unexpected = set(fragment) - {"paths", "components"}
        if unexpected or set(fragment.get("components") or {}) - {"schemas"}:
            raise Invalid(f"{part.name}: only paths and components.schemas belong in a function's file")
        for path, item in (fragment.get("paths") or {}).items():
            for method, operation in item.items():
                if method in paths.get(path, {}):
                    raise Invalid(f"{part.name}: {method.upper()} {path} is defined twice")
                paths.setdefault(path, {})[method] = operation
        for name, schema in ((fragment.get("components") or {}).get("schemas") or {}).items():
            if name in schemas:
                raise Invalid(f"{part.name}: schema {name} is defined twice")
            schemas[name] = schema
    document["paths"] = dict(sorted(paths.items()))
    check_references(document)
    return document


def check_references(document):
    def walk(node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target = document
                for part in ref.removeprefix("#/").split("/"):
                    if not isinstance(target, dict) or part not in target:
                        raise Invalid(f"{where}: $ref {ref} names nothing")
                    target = target[part]
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")
    walk(document, "#")


def operations(document):
    """(method, path, function, guarded) of every operation of the document."""
    out = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            function = operation.get("x-tenantry-function")
            if not function:
                raise Invalid(f"{method.upper()} {path} names no x-tenantry-function")
            guarded = operation.get("security", document.get("security")) != []
            out.add((method.upper(), path, function, guarded))
    return out


def template_routes():
    import local_stack
    doc = template.load()
    return {(r["method"], r["path"], r["function"], r["auth"]) for r in local_stack.routes(doc)}


def render(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv):
    try:
        document = build()
        if "--check" in argv:
            if not OUTPUT.exists() or OUTPUT.read_text() != render(document):
                raise Invalid("docs/openapi.json is not what docs/openapi/ gives: run python3 scripts/openapi.py")
            documented, routed = operations(document), template_routes()
            if documented != routed:
                lines = [f"  only in the document: {op}" for op in sorted(documented - routed)]
                lines += [f"  only in template.yaml: {op}" for op in sorted(routed - documented)]
                raise Invalid("the document's operations are not the template's routes:\n" + "\n".join(lines))
            print(f"docs/openapi.json: {len(documented)} operations, the template's routes exactly")
        else:
            OUTPUT.write_text(render(document))
            print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(operations(document))} operations)")
    except Invalid as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
