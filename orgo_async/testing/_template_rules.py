"""Validation and normalization of ``orgo.ai/v1`` template documents, for the emulator.

Written from the reference (§9) on its own: the top-level keys, ``template`` ``{name,
version, description}``, ``hardware`` ``{cpu, ram_gb, resolution}``, ``secrets``,
``vars``, ``env``, ``apps``, ``terminal`` ... Field errors use the documented shape
``{field, code, message, hint?}`` with the documented codes ``required``,
``invalid_enum`` and ``unknown_ref`` (a ``${{ secrets.X }}`` / ``${{ vars.X }}``
reference to something not declared), plus ``invalid_value`` (wrong type or format) and
``unknown_field`` (a top-level key the schema does not have), which the reference leaves
open.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

__all__ = ["API_VERSION", "digest_of", "normalize", "validate"]

API_VERSION: Final = "orgo.ai/v1"
TOP_LEVEL: Final = (
    "api_version",
    "template",
    "hardware",
    "secrets",
    "vars",
    "env",
    "build",
    "files",
    "apps",
    "triggers",
    "terminal",
    "hooks",
    "telemetry",
    "egress_policy",
    "streaming",
)
CPUS: Final = (1, 2, 4, 8, 16)
RAM_GB: Final = (4, 8, 16, 32, 64)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
_RESOLUTION = re.compile(r"\d{3,5}x\d{3,5}x(8|16|24|32)")
_REF = re.compile(r"\$\{\{\s*(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _err(field: str, code: str, message: str, hint: str | None = None) -> dict[str, str]:
    error = {"field": field, "code": code, "message": message}
    if hint:
        error["hint"] = hint
    return error


def _named_list(doc: dict[str, Any], key: str, errors: list[dict[str, str]]) -> list[str]:
    items = doc.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        errors.append(_err(key, "invalid_value", f"{key} must be a list"))
        return []
    names = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(_err(f"{key}[{i}]", "invalid_value", "must be a mapping"))
        elif not isinstance(item.get("name"), str) or not item["name"]:
            errors.append(_err(f"{key}[{i}].name", "required", "name is required"))
        else:
            names.append(item["name"])
    return names


def _template_block(doc: dict[str, Any], errors: list[dict[str, str]]) -> None:
    block = doc.get("template")
    if block is None:
        errors.append(_err("template", "required", "template is required"))
        return
    if not isinstance(block, dict):
        errors.append(_err("template", "invalid_value", "template must be a mapping"))
        return
    name, version = block.get("name"), block.get("version")
    if name is None:
        errors.append(_err("template.name", "required", "template.name is required"))
    elif not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append(
            _err(
                "template.name",
                "invalid_value",
                f"invalid template name {name!r}",
                "lowercase letters, digits, '-' and '_', up to 63 characters",
            )
        )
    if version is None:
        errors.append(_err("template.version", "required", "template.version is required"))
    elif not isinstance(version, str) or not _SEMVER.fullmatch(version):
        errors.append(
            _err(
                "template.version", "invalid_value", f"invalid version {version!r}", "semver: 1.0.0"
            )
        )
    namespace = block.get("namespace", "default")
    if not isinstance(namespace, str) or not _NAME.fullmatch(namespace):
        errors.append(_err("template.namespace", "invalid_value", "invalid namespace"))
    elif namespace == "system":
        errors.append(_err("template.namespace", "invalid_value", "namespace 'system' is reserved"))


def _hardware(doc: dict[str, Any], errors: list[dict[str, str]]) -> None:
    hw = doc.get("hardware")
    if hw is None:
        return
    if not isinstance(hw, dict):
        errors.append(_err("hardware", "invalid_value", "hardware must be a mapping"))
        return
    cpu = hw.get("cpu")
    if cpu is not None and (isinstance(cpu, bool) or cpu not in CPUS):
        hint = "one of " + ", ".join(map(str, CPUS))
        errors.append(_err("hardware.cpu", "invalid_enum", f"invalid cpu {cpu!r}", hint))
    ram = hw.get("ram_gb")
    if ram is not None and (isinstance(ram, bool) or ram not in RAM_GB):
        hint = "one of " + ", ".join(map(str, RAM_GB))
        errors.append(_err("hardware.ram_gb", "invalid_enum", f"invalid ram_gb {ram!r}", hint))
    res = hw.get("resolution")
    if res is not None and (not isinstance(res, str) or not _RESOLUTION.fullmatch(res)):
        errors.append(
            _err(
                "hardware.resolution", "invalid_value", f"invalid resolution {res!r}", "1280x720x24"
            )
        )


def validate(doc: Any) -> list[dict[str, str]]:
    """Every field error of ``doc`` (empty when it is valid)."""
    if not isinstance(doc, dict):
        return [_err("", "invalid_value", "a template document must be a mapping")]
    errors: list[dict[str, str]] = []
    version = doc.get("api_version")
    if version is None:
        errors.append(_err("api_version", "required", "api_version is required", API_VERSION))
    elif version != API_VERSION:
        errors.append(
            _err("api_version", "invalid_enum", f"unsupported api_version {version!r}", API_VERSION)
        )
    for key in doc:
        if key not in TOP_LEVEL:
            errors.append(_err(str(key), "unknown_field", f"unknown top-level key {key!r}"))
    _template_block(doc, errors)
    _hardware(doc, errors)
    declared = {
        "secrets": set(_named_list(doc, "secrets", errors)),
        "vars": set(doc["vars"]) if isinstance(doc.get("vars"), dict) else set(),
    }
    if "vars" in doc and not isinstance(doc["vars"], dict):
        errors.append(_err("vars", "invalid_value", "vars must be a mapping"))
    _named_list(doc, "apps", errors)
    _named_list(doc, "terminal", errors)
    env = doc.get("env")
    if env is not None and not isinstance(env, dict):
        errors.append(_err("env", "invalid_value", "env must be a mapping"))
    elif isinstance(env, dict):
        for name, value in env.items():
            for kind, ref in _REF.findall(str(value)):
                if ref not in declared[kind]:
                    errors.append(
                        _err(
                            f"env.{name}",
                            "unknown_ref",
                            f"{kind}.{ref} is not declared",
                            f"declare it under {kind}",
                        )
                    )
    return errors


def normalize(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its defaults filled in (what validate/publish answer)."""
    out = dict(doc)
    block = dict(out["template"])
    block.setdefault("namespace", "default")
    block.setdefault("description", "")
    out["template"] = block
    hw = dict(out.get("hardware") or {})
    hw.setdefault("cpu", 1)
    hw.setdefault("ram_gb", 4)
    hw.setdefault("resolution", "1280x720x24")
    out["hardware"] = hw
    return out


def digest_of(doc: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical (sorted, compact) JSON of the normalized document."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
