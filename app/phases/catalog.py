"""The router: loads the phases and models, merges the operator's file, cross-checks everything.

Start-up fails here, with the file, the entry and the field named, rather than on a request.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.errors import ConfigError, PhaseNotFound
from app.phases.config import ModelSpec, PhaseConfig
from app.phases.contract import RULES
from app.phases.output import OutputSchema

_HERE = Path(__file__).parent
DEFAULTS_FILE = _HERE / "defaults.toml"


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase ready to run: its config, system prompt and output contract."""

    config: PhaseConfig
    system_prompt: str
    output: OutputSchema

    @property
    def name(self) -> str:
        return self.config.name


class PhaseCatalog:
    """Every phase in order, and the models they may call."""

    def __init__(self, phases: list[Phase], models: Mapping[str, ModelSpec]) -> None:
        self._phases = {p.name: p for p in sorted(phases, key=lambda p: p.config.order)}
        self.models = dict(models)

    def names(self) -> list[str]:
        """Phase names in workflow order."""
        return list(self._phases)

    def __iter__(self) -> Any:
        return iter(self._phases.values())

    def get(self, name: str) -> Phase:
        """The phase called ``name``; ``PhaseNotFound`` lists the valid ones."""
        try:
            return self._phases[name]
        except KeyError:
            raise PhaseNotFound(name, self.names()) from None


def load_catalog(config_file: Path | None = None, *, known_providers: Collection[str]) -> PhaseCatalog:
    """Build the catalog from the defaults and the operator's file, or raise ``ConfigError``."""
    raw = _read(DEFAULTS_FILE)
    base_dir_for: dict[str, Path] = {}
    if config_file is not None:
        override = _read(config_file)
        unknown = set(override) - {"models", "defaults", "phases"}
        if unknown:
            raise ConfigError(
                f"{config_file}: unknown top-level table(s) {sorted(unknown)}",
                hint="allowed tables are models, defaults and phases",
            )
        raw.setdefault("models", {}).update(override.get("models", {}))
        raw["defaults"] = _merge(raw.get("defaults", {}), override.get("defaults", {}))
        for name, table in override.get("phases", {}).items():
            raw["phases"][name] = _merge(raw["phases"].get(name, {}), table)
            base_dir_for[name] = config_file.parent

    source = str(config_file or DEFAULTS_FILE)
    models = {alias: _model(alias, spec, source) for alias, spec in raw.get("models", {}).items()}
    for alias, spec in models.items():
        if spec.provider not in known_providers:
            raise ConfigError(
                f"{source}: model {alias!r} names unknown provider {spec.provider!r}",
                hint=f"known providers: {', '.join(sorted(known_providers))}",
            )
    phases = [
        _phase(name, _merge(raw.get("defaults", {}), table), models, source, base_dir_for)
        for name, table in raw.get("phases", {}).items()
    ]
    orders = [p.config.order for p in phases]
    if len(set(orders)) != len(orders):
        raise ConfigError(f"{source}: two phases share an order number: {sorted(orders)}")
    return PhaseCatalog(phases, models)


def _phase(
    name: str,
    table: dict[str, Any],
    models: Mapping[str, ModelSpec],
    source: str,
    base_dir_for: Mapping[str, Path],
) -> Phase:
    try:
        config = PhaseConfig.model_validate({"name": name, **table})
    except ValidationError as exc:
        raise ConfigError(f"{source}: phase {name!r}: {_explain(exc)}") from None
    unknown = sorted(config.aliases() - set(models))
    if unknown:
        raise ConfigError(
            f"{source}: phase {name!r} names unknown model alias(es) {unknown}",
            hint=f"defined aliases: {', '.join(sorted(models))}",
        )
    base = base_dir_for.get(name, _HERE)
    prompt_path = base / config.prompt_file if config.prompt_file else _HERE / "prompts" / f"{name}.md"
    schema_path = base / config.schema_file if config.schema_file else _HERE / "schemas" / f"{name}.json"
    try:
        prompt = prompt_path.read_text(encoding="utf-8").strip()
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{source}: phase {name!r}: cannot load its prompt or schema: {exc}") from None
    try:
        output = OutputSchema(name, schema, config.always_emit, RULES.get(name, ()))
    except Exception as exc:  # jsonschema's SchemaError, or an always_emit key the schema lacks
        raise ConfigError(f"{source}: phase {name!r}: bad output schema: {exc}") from None
    if config.decision and config.decision.field not in schema.get("properties", {}):
        raise ConfigError(
            f"{source}: phase {name!r}: decision field {config.decision.field!r} is not in its schema"
        )
    return Phase(config=config, system_prompt=prompt, output=output)


def _model(alias: str, spec: Any, source: str) -> ModelSpec:
    try:
        return ModelSpec.model_validate(spec)
    except ValidationError as exc:
        raise ConfigError(f"{source}: model {alias!r}: {_explain(exc)}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read phase config {path}: {exc.strerror}",
            hint="PHASES_CONFIG_FILE must name a readable TOML or JSON file",
        ) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table/object")
    return data


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; everything else (lists included) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
