#!/usr/bin/env python3
"""Builds docs/openapi.json, the API's OpenAPI document, from docs/openapi/: base.yaml (what
every operation shares) and one file per function (its paths and schemas).

    openapi.py           writes docs/openapi.json
    openapi.py --check   fails if docs/openapi.json is not what the sources give, if two files
                         define the same path, method or schema, if a reference names nothing,
                         if the document's operations are not exactly the routes of the
                         template's people's API (`Api`: method, path, function, and whether
                         the authorizer guards them), or if its machine operations (those with
                         `x-tenantry-machine-scope`) are not exactly the routes of `MachineApi`
                         (method, path, function, and `Auth.AuthorizationScopes` exactly that
                         one scope)
    --template PATH      checks against another template than template.yaml

The handlers' route tables are checked against the document by each function's unit tests
(`shared::testing::assert_routes_documented`).
"""

import argparse
import json
import pathlib
import sys

import yaml

import template

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "openapi"
OUTPUT = ROOT / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}
# The template's REST APIs: people's (ID tokens) and machine clients' (access tokens with scopes).
PEOPLE_API, MACHINE_API = "Api", "MachineApi"
# The security scheme of machine clients' access tokens (base.yaml).
MACHINE_SCHEME = "machineClient"


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


def machine_operations(document):
    """(method, path, function, scope) of every operation machine clients may call: those with
    `x-tenantry-machine-scope`, which their security must name (`machineClient: [scope]`)."""
    declared = (document["components"]["securitySchemes"].get(MACHINE_SCHEME) or {})
    known = set((declared.get("flows") or {}).get("clientCredentials", {}).get("scopes") or {})
    out = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            scope = operation.get("x-tenantry-machine-scope")
            security = operation.get("security", document.get("security")) or []
            named = [entry[MACHINE_SCHEME] for entry in security if MACHINE_SCHEME in entry]
            if scope is None:
                if named:
                    raise Invalid(f"{where}: its security names {MACHINE_SCHEME} but it has no x-tenantry-machine-scope")
                continue
            if scope not in known:
                raise Invalid(f"{where}: x-tenantry-machine-scope {scope} is not a scope of {MACHINE_SCHEME}")
            if named != [[scope]]:
                raise Invalid(f"{where}: its security must name {MACHINE_SCHEME}: [{scope}] (x-tenantry-machine-scope), once")
            out.add((method.upper(), path, operation["x-tenantry-function"], scope))
    return out


def template_routes(path):
    """The template's API routes: of the people's API, (method, path, function, guarded); of
    the machine API, (method, path, function, guarded, authorization scopes)."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "local"))
    import local_stack
    doc = template.load(path)
    people, machine = set(), set()
    for logical_id, props in local_stack.functions(doc).items():
        function = local_stack.binary_of(props)
        for name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            p = event["Properties"]
            auth = p.get("Auth") or {}
            # A method exempt from the default authorizer says so by name.
            guarded = auth.get("Authorizer") != "NONE"
            api = p.get("RestApiId", {"Ref": PEOPLE_API})
            route = (p["Method"].upper(), p["Path"], function, guarded)
            if api == {"Ref": PEOPLE_API}:
                people.add(route)
            elif api == {"Ref": MACHINE_API}:
                scopes = auth.get("AuthorizationScopes")
                if isinstance(scopes, list):
                    scopes = tuple(s if isinstance(s, str) else repr(s) for s in scopes)
                elif scopes is not None:
                    scopes = repr(scopes)
                machine.add(route + (scopes,))
            else:
                raise Invalid(f"{logical_id}.{name}: RestApiId {api!r} is neither !Ref {PEOPLE_API} nor !Ref {MACHINE_API}")
    return people, machine


def compare_people(documented, routed):
    lines = [f"  only in the document: {op}" for op in sorted(documented - routed)]
    lines += [f"  only in template.yaml: {op}" for op in sorted(routed - documented)]
    return lines


def compare_machines(document, machine_ops, machine_routes):
    """What differs between the machine operations and the MachineApi routes, each with why."""
    expected = {(m, p, f, True, (s,)) for m, p, f, s in machine_ops}
    operations_at = {(m.upper(), p): op for p, item in document["paths"].items()
                     for m, op in item.items() if m in METHODS}
    routed = {route[:3] for route in machine_routes}
    lines = []
    for op in sorted(machine_ops):
        if op[:3] not in routed:
            lines.append(f"  only in the document (no {MACHINE_API} route to {op[2]}): {op}")
    for route in sorted(machine_routes - expected, key=repr):
        method, path, function, guarded, scopes = route
        operation = operations_at.get((method, path))
        if operation is None:
            why = "no such operation in the document"
        elif operation.get("x-tenantry-function") != function:
            why = f"the document gives it to {operation.get('x-tenantry-function')}"
        elif "x-tenantry-machine-scope" not in operation:
            why = "the operation has no x-tenantry-machine-scope"
        elif not guarded:
            why = "its Auth.Authorizer is NONE"
        else:
            why = f"Auth.AuthorizationScopes must be [{operation['x-tenantry-machine-scope']}]"
        lines.append(f"  only in template.yaml ({MACHINE_API}): {route}: {why}")
    return lines


def render(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="check docs/openapi.json against docs/openapi/ and the template")
    parser.add_argument("--template", type=pathlib.Path, default=template.TEMPLATE,
                        help="the SAM template --check compares with (default: template.yaml)")
    args = parser.parse_args(argv)
    try:
        document = build()
        if args.check:
            if not args.template.is_file():
                raise Invalid(f"{args.template}: no such template")
            if not OUTPUT.exists() or OUTPUT.read_text() != render(document):
                raise Invalid("docs/openapi.json is not what docs/openapi/ gives: run python3 scripts/openapi.py")
            documented, machine_ops = operations(document), machine_operations(document)
            routed, machine_routes = template_routes(args.template)
            errors = []
            if documented != routed:
                errors.append("the document's operations are not the template's routes:\n"
                              + "\n".join(compare_people(documented, routed)))
            lines = compare_machines(document, machine_ops, machine_routes)
            if lines:
                errors.append(f"the document's machine operations (x-tenantry-machine-scope) are not the template's {MACHINE_API} routes:\n"
                              + "\n".join(lines))
            if errors:
                raise Invalid("\n".join(errors))
            print(f"docs/openapi.json: {len(documented)} operations, the template's routes exactly; "
                  f"{len(machine_ops)} of them machine operations, the {MACHINE_API} routes exactly")
        else:
            OUTPUT.write_text(render(document))
            print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(operations(document))} operations)")
    except Invalid as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
