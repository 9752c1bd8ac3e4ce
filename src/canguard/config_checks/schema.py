"""Schema validation with the defaults filled in, each error as one line naming its key path and what is allowed."""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml

from canguard.config_checks.errors import ERROR

# A number in a config is finite (no NaN, no +-infinity, whatever YAML or JSON spells: .nan, .inf, NaN, Infinity)
# unless the schema entry of its key sets this keyword to true; no key sets it today.
ALLOW_NONFINITE = "allowNonFinite"


@lru_cache(maxsize=8)
def _load_schema(path: str) -> dict:
    schema = yaml.safe_load(Path(path).read_text())
    # datasets.<name>.spec: the keys and bounds of `synthetic`, without its defaults
    synthetic = _without_defaults(schema["properties"]["synthetic"])
    synthetic.pop("description", None)
    entry = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    entry["spec"] = {**synthetic, **{k: v for k, v in entry["spec"].items() if k != "type"}}
    return schema


def load_schema(path: str | Path) -> dict:
    """The config schema at ``path`` (a fresh copy: validation never changes the cached one)."""
    return copy.deepcopy(_load_schema(str(Path(path).resolve())))


def _without_defaults(node):
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    return node


def is_nonfinite(value) -> bool:
    """Whether ``value`` is a float NaN or infinity (what ``.nan``, ``.inf``, JSON ``NaN``/``Infinity`` read as)."""
    return isinstance(value, float) and not math.isfinite(value)


def _validator(schema: dict):
    """A Draft 2020-12 validator that fills in defaults as snakemake.utils.validate does (the FAQ recipe
    of jsonschema), here with a copy of each default and only into mappings; and that refuses a NaN or an
    infinity where the schema asks for a number or an integer, unless that entry says ``allowNonFinite: true``
    (JSON Schema's own ``number`` takes them, and NaN passes every bound: NaN < 0 and NaN > 10 are both false)."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]
    validate_type = Draft202012Validator.VALIDATORS["type"]

    def finite_type(validator, types, instance, schema):
        kinds = types if isinstance(types, list) else [types]
        if is_nonfinite(instance) and {"number", "integer"} & set(kinds) and schema.get(ALLOW_NONFINITE) is not True:
            yield ValidationError(f"{instance!r} is not a finite number", validator="finite", validator_value=True)
            return
        yield from validate_type(validator, types, instance, schema)

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults, "type": finite_type})(schema)


def validate_config(config: dict, schema: dict | str | Path) -> list[str]:
    """Validate ``config`` against ``schema`` (a path or the loaded schema), filling in its defaults in
    place; one ``config error: <key path>: ...`` line per mistake, in schema order (none: valid)."""
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    if not isinstance(config, dict):
        return [f"{ERROR}: (top level): {show_value(config)} is not valid (allowed: a mapping of config sections)"]
    lines: list[str] = []
    seen_paths: set[str] = set()
    for error in _validator(schema).iter_errors(config):
        for line, path in _error_lines(error, schema):
            if line in lines or (path is not None and path in seen_paths):
                continue
            lines.append(line)
            if path is not None:
                seen_paths.add(path)
    return lines


def _error_lines(error, root: dict):
    """(line, path) for one jsonschema error; path None where several lines may share it."""
    path = key_path(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        allowed = _allowed_keys(schema)
        patterns = list(schema.get("patternProperties", {}))
        for key in error.instance:
            if key in allowed or any(re.search(p, str(key)) for p in patterns):
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.7)
            hint = f", did you mean {close[0]}?" if close else ""
            yield (f"{ERROR}: {_join(path, key)}: unknown key{hint} (allowed: {', '.join(allowed) or 'none'})", None)
    elif "propertyNames" in error.relative_schema_path:  # a key of a mapping keyed by names (datasets)
        yield (f"{ERROR}: {path or '(top level)'}: the name {show_value(error.instance)} is not valid "
               f"(allowed: {describe(schema, root)})", None)
    elif keyword == "required":
        missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
        for key in missing:
            yield f"{ERROR}: {_join(path, key)}: missing (required)", None
    elif is_nonfinite(error.instance) and (keyword == "finite" or (
            _takes_numbers(schema, root) and _resolve(schema, root).get(ALLOW_NONFINITE) is not True)):
        yield (f"{ERROR}: {path or '(top level)'}: {show_value(error.instance)} is not a finite number "
               f"(allowed: {describe(schema, root)})", path)
    else:
        hint = _yaml_hint(error.instance, schema, root)
        yield (f"{ERROR}: {path or '(top level)'}: {show_value(error.instance)} is not valid "
               f"(allowed: {describe(schema, root)}){hint}", path)


def _takes_numbers(schema, root: dict) -> bool:
    """Whether a (sub-)schema takes a number or an integer, itself or in one of its anyOf/oneOf branches."""
    if not isinstance(schema, dict):
        return False
    schema = _resolve(schema, root)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if {"number", "integer"} & set(kinds):
        return True
    return any(_takes_numbers(s, root) for key in ("anyOf", "oneOf") for s in schema.get(key, []))


def key_path(parts: Iterable) -> str:
    """``["models", "families", 0]`` -> ``models.families[0]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _allowed_keys(schema: dict) -> list[str]:
    """Keys a mapping may have: its properties and the names its patternProperties spell out."""
    keys = list(schema.get("properties", {}))
    for pattern in schema.get("patternProperties", {}):
        m = re.fullmatch(r"\^\(?([\w|-]+)\)?\$", pattern)
        keys += m.group(1).split("|") if m else [f"<{pattern}>"]
    return keys


def _resolve(schema: dict, root: dict) -> dict:
    """``schema`` with its local ``$ref`` (``#/$defs/...``) merged in under its own keywords."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}


def describe(schema, root: dict | None = None) -> str:
    """What a (sub-)schema allows, in words: its ``title`` where it has one."""
    if not isinstance(schema, dict):
        return "anything" if schema is True else "nothing"
    schema = _resolve(schema, root or {})
    if "title" in schema:
        return schema["title"]
    if "const" in schema:
        return as_json(schema["const"])
    if "enum" in schema:
        return ", ".join(as_json(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _either([describe(s, root) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _either([describe({**schema, "type": k}, root) for k in kind])
    if kind in ("integer", "number"):
        return _number(schema, "an integer" if kind == "integer" else "a number")
    if kind == "boolean":
        return "true or false"
    if kind == "null":
        return "null"
    if kind == "string":
        if "pattern" in schema:
            return f"a string matching {schema['pattern']}"
        return "a non-empty string" if schema.get("minLength", 0) >= 1 else "a string"
    if kind == "array":
        least = schema.get("minItems", 0)
        text = "a non-empty list" if least == 1 else f"a list of at least {least}" if least else "a list"
        if "items" in schema:
            text += f" of: {describe(schema['items'], root)}"
        return text + ("; no repeats" if schema.get("uniqueItems") else "")
    if kind == "object":
        keys = _allowed_keys(schema)
        return f"a mapping with keys {', '.join(keys)}" if keys else "a mapping"
    return "anything"


def _number(schema: dict, name: str) -> str:
    lo, lo_in = (schema["minimum"], True) if "minimum" in schema else (schema.get("exclusiveMinimum"), False)
    hi, hi_in = (schema["maximum"], True) if "maximum" in schema else (schema.get("exclusiveMaximum"), False)
    if lo is not None and hi is not None:
        return f"{name} in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
    if lo is not None:
        return f"{name} {'>=' if lo_in else '>'} {lo}"
    if hi is not None:
        return f"{name} {'<=' if hi_in else '<'} {hi}"
    return name


def _either(options: list[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])}, or {options[-1]}"


def as_json(value) -> str:
    return json.dumps(value)


def show_value(value) -> str:
    """A config value as the line shows it: 'banana', 0, [], true, null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _yaml_hint(value, schema: dict, root: dict) -> str:
    """'1e-3' where a number is expected: YAML 1.1 reads exponents without a dot as strings."""
    kinds = _resolve(schema, root).get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, str) and ({"number", "integer"} & set(kinds)):
        try:
            number = float(value)
        except ValueError:
            return ""
        if not math.isfinite(number):  # 'NaN', 'inf', 'Infinity': no spelling of them is a valid value
            return ""
        if re.fullmatch(r"[+-]?\d+[eE][+-]?\d+", value.strip()):
            return f"; YAML reads {value} as a string: write it with a dot, e.g. 1.0e-3"
        return f"; {value!r} is a string here: give the number unquoted"
    return ""
