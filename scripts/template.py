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


def resolve(value, stack_name, refs=None):
    """Resolves the intrinsic forms the local stack needs: plain strings, !Sub with
    ${AWS::StackName} (and names in `refs`), !Ref of names in `refs`, and !GetAtt of the
    attributes `refs` holds as "LogicalId.Attribute"."""
    refs = dict(refs or {})
    refs.setdefault("AWS::StackName", stack_name)
    refs.setdefault("AWS::Region", "us-east-1")
    refs.setdefault("AWS::AccountId", "123456789012")
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        if isinstance(text, list):
            text, extra = text
            refs.update({k: resolve(v, stack_name, refs) for k, v in extra.items()})

        def substitute(match):
            name = match.group(1)
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
    raise ValueError(f"cannot resolve {value!r} locally")
