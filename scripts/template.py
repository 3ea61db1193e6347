"""Reads template.yaml, the single source of truth for the local stack: its tables, its user pool
and app client, and its API routes. CloudFormation's short-form tags (!Ref, !Sub, !GetAtt ...)
are kept as {"Ref": ...}-style values so callers can resolve what they need."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}
    return construct


for _short in ["Ref", "Condition"]:
    _Loader.add_constructor("!" + _short, _tag(_short))
for _short in ["Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
               "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs"]:
    _Loader.add_constructor("!" + _short, _tag("Fn::" + _short))


def load(path=TEMPLATE):
    return yaml.load(pathlib.Path(path).read_text(), Loader=_Loader)


def resources(template, type_name):
    """(logical id, properties) of every resource of a type."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == type_name:
            yield logical_id, resource.get("Properties", {}) or {}


def resolve(value, stack_name, refs=None, conditions=None):
    """Resolves the intrinsic forms the local stack needs: plain strings, !Sub with
    ${AWS::StackName} (and names in `refs`), !Ref of names in `refs`, !GetAtt of the
    attributes `refs` holds as "LogicalId.Attribute", !Select and !Split, and !If of the
    conditions in `conditions` (name -> bool, see evaluate_conditions)."""
    refs = dict(refs or {})
    refs.setdefault("AWS::StackName", stack_name)
    refs.setdefault("AWS::Region", "us-east-1")
    refs.setdefault("AWS::AccountId", "123456789012")
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [resolve(item, stack_name, refs, conditions) for item in value]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        if isinstance(text, list):
            text, extra = text
            refs.update({k: resolve(v, stack_name, refs, conditions) for k, v in extra.items()})

        def substitute(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name not in refs:
                raise ValueError(f"cannot resolve ${{{name}}} locally")
            return str(refs[name])
        return re.sub(r"\$\{([^}]+)\}", substitute, text)
    if isinstance(value, dict) and "Ref" in value:
        if value["Ref"] not in refs:
            raise ValueError(f"cannot resolve !Ref {value['Ref']} locally")
        return refs[value["Ref"]]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        name = ".".join(value["Fn::GetAtt"])
        if name not in refs:
            raise ValueError(f"cannot resolve !GetAtt {name} locally")
        return refs[name]
    if isinstance(value, dict) and "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return resolve(items, stack_name, refs, conditions)[int(index)]
    if isinstance(value, dict) and "Fn::Split" in value:
        delimiter, text = value["Fn::Split"]
        return str(resolve(text, stack_name, refs, conditions)).split(delimiter)
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        if conditions is None or name not in conditions:
            raise ValueError(f"cannot resolve !If {name} locally")
        return resolve(when_true if conditions[name] else when_false, stack_name, refs, conditions)
    raise ValueError(f"cannot resolve {value!r} locally")


def evaluate_conditions(doc, refs):
    """The template's Conditions, evaluated with the parameter values in `refs`."""
    definitions = doc.get("Conditions") or {}
    done = {}

    def value(v):
        if isinstance(v, dict) and "Ref" in v:
            if v["Ref"] not in refs:
                raise ValueError(f"cannot resolve !Ref {v['Ref']} in a condition locally")
            return refs[v["Ref"]]
        return v

    def evaluate(expression):
        if isinstance(expression, dict) and len(expression) == 1:
            (key, arg), = expression.items()
            if key == "Condition":
                return condition(arg)
            if key == "Fn::Equals":
                return str(value(arg[0])) == str(value(arg[1]))
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(evaluate(a) for a in arg)
        raise ValueError(f"cannot evaluate the condition {expression!r} locally")

    def condition(name):
        if name not in done:
            done[name] = evaluate(definitions[name])
        return done[name]

    return {name: condition(name) for name in definitions}
