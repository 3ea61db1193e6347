"""Reads an environment of samconfig.toml (dev, prod) as `sam deploy --config-env ENV` does: its
stack name, region, parameter overrides and tags. The preflight, the replay of stream records,
the console's publication and rollback read the stack they work on from here."""

import pathlib
import shlex

import tomlkit

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"


class ConfigError(Exception):
    pass


def pairs(text):
    """SAM's `Key=Value Key2="a value"` form (parameter_overrides, tags) as a dict."""
    out = {}
    for item in shlex.split(text or ""):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{item!r} is not Key=Value")
        out[key] = value
    return out


def load(env, path=SAMCONFIG):
    """{"env", "stack_name", "region", "parameters": {...}, "tags": {...}} of the environment."""
    document = tomlkit.parse(pathlib.Path(path).read_text()).unwrap()
    if env not in document or env == "version":
        known = sorted(name for name in document if name not in ("version", "default"))
        raise ConfigError(f"{path.name if hasattr(path, 'name') else path} has no environment {env!r} "
                          f"(it has: {', '.join(known) or 'none'})")
    section = document[env]
    merged = {}
    for command in ("global", "deploy"):
        merged.update((section.get(command) or {}).get("parameters") or {})
    stack = merged.get("stack_name")
    if not stack:
        raise ConfigError(f"[{env}.global.parameters] has no stack_name")
    return {"env": env, "stack_name": stack, "region": merged.get("region"),
            "parameters": pairs(merged.get("parameter_overrides", "")), "tags": pairs(merged.get("tags", ""))}
