"""Reads template.yaml, the single source of routes, handlers, environment and layers, for
the local API and `invoke`. Understands the CloudFormation short tags it needs (!Ref and
!Sub of parameters); anything that only exists in AWS resolves to None.

The local API serves every function, whatever its Condition (the test driver included:
docs/protocol.md §6), with the parameter values of LOCAL_PARAMETERS over the defaults.
`deployed()` instead renders what a stack with given parameter values would hold: Conditions
evaluated, resources whose Condition is false removed, Fn::If resolved - the same resolver
works on SAM's transformed output (scripts/check_template.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from . import ROOT

TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
#: the local API's own parameter values: no TLS on the local socket (DATABASE_URL says how to
#: connect), and the test driver is always there
LOCAL_PARAMETERS: dict[str, Any] = {"DatabaseSslMode": "prefer", "DatabaseSslRootCert": None, "EnableTestDriver": "true"}


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


_PARAM = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


def route_pattern(path: str) -> re.Pattern[str]:
    """The regex of an API Gateway resource path: `{name}` matches one path segment,
    `{name+}` the rest of the path (greedy), everything else itself."""
    out, pos = [], 0
    for m in _PARAM.finditer(path):
        out.append(re.escape(path[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


def match_route(resource: str, path: str) -> dict[str, str] | None:
    """The path parameters (still percent-encoded) when `path` is an instance of the resource
    path `resource`, else None. A resource without parameters matches only itself."""
    if "{" not in resource:
        return {} if resource == path else None
    m = route_pattern(resource).fullmatch(path)
    return m.groupdict() if m else None


@dataclass
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    layers: list[Path]
    routes: list[tuple[str, str]] = field(default_factory=list)  # (METHOD, /path)
    schedules: list[float] = field(default_factory=list)  # seconds between runs (Schedule events)
    _module: ModuleType | None = None

    def load(self) -> Callable[[dict, Any], dict]:
        """Imports the handler module under its own name (one namespace per function)."""
        if self._module is None:
            for layer in self.layers:
                if str(layer) not in sys.path:
                    sys.path.insert(0, str(layer))
            module_file, attr = self.handler.rsplit(".", 1)
            path = self.code_dir / (module_file.replace(".", "/") + ".py")
            spec = importlib.util.spec_from_file_location(f"lambda_{self.logical_id}", path)
            assert spec and spec.loader, path
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._module = module
        return getattr(self._module, self.handler.rsplit(".", 1)[1])


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of an EventBridge `rate(...)` expression (cron ones: None)."""
    m = _RATE.match(expression.strip())
    return float(int(m.group(1)) * _UNIT[m.group(2).rstrip("s")]) if m else None


class Template:
    def __init__(self, path: Path = TEMPLATE) -> None:
        self.doc = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        self.defaults = {k: v.get("Default") for k, v in (self.doc.get("Parameters") or {}).items()}
        self.parameters = {**self.defaults, **{k: v for k, v in LOCAL_PARAMETERS.items() if k in self.defaults}}
        self.resources: dict[str, dict] = self.doc["Resources"]
        self.functions = self._functions()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Ref" in value:
            return self.parameters.get(value["Ref"])
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):

            def sub(m: re.Match) -> str:
                resolved = self.parameters.get(m.group(1))
                return "" if resolved is None else str(resolved)

            return re.sub(r"\$\{([A-Za-z0-9]+)\}", sub, value["Fn::Sub"])
        if isinstance(value, dict):
            return None
        return value

    def _layer_dirs(self, refs: list) -> list[Path]:
        dirs = []
        for ref in refs:
            logical = ref.get("Ref") if isinstance(ref, dict) else None
            res = self.resources.get(logical or "", {})
            if res.get("Type") == "AWS::Serverless::LayerVersion":
                dirs.append(ROOT / res["Properties"]["ContentUri"])
        return dirs

    def _functions(self) -> dict[str, Function]:
        glob = (self.doc.get("Globals") or {}).get("Function", {})
        out = {}
        for logical_id, res in self.resources.items():
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            props = res["Properties"]
            env = {
                **(glob.get("Environment", {}).get("Variables") or {}),
                **((props.get("Environment") or {}).get("Variables") or {}),
            }
            resolved_env = {k: str(v) for k, v in ((k, self.resolve(v)) for k, v in env.items()) if v not in (None, "")}
            fn = Function(
                logical_id=logical_id,
                code_dir=ROOT / props["CodeUri"],
                handler=props["Handler"],
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
                environment=resolved_env,
                layers=self._layer_dirs(props.get("Layers", glob.get("Layers", []))),
            )
            for event in (props.get("Events") or {}).values():
                if event.get("Type") in ("Schedule", "ScheduleV2"):
                    seconds = rate_seconds(str(event["Properties"].get("Schedule", "")))
                    if seconds:
                        fn.schedules.append(seconds)
                if event.get("Type") in ("Api", "HttpApi"):
                    p = event["Properties"]
                    fn.routes.append((p["Method"].upper(), p["Path"]))
            out[logical_id] = fn
        return out

    def deployed(self, overrides: dict[str, str] | None = None) -> dict[str, Any]:
        """The template as a stack with these parameter values (defaults for the rest) would
        hold it: see render()."""
        return render(self.doc, {**self.defaults, **(overrides or {})})

    def environment(self) -> dict[str, str]:
        """Every function's template environment (the local API serves them in one process)."""
        env: dict[str, str] = {}
        for fn in self.functions.values():
            env.update(fn.environment)
        return env


# ------------------------------------------------------------------ rendering for a stack


def samconfig_parameters(env: str = "default", path: Path = SAMCONFIG) -> dict[str, str]:
    """The parameter_overrides of samconfig.toml's `env` for `sam deploy` ("K=V K=V")."""
    import shlex
    import tomllib

    config = tomllib.loads(path.read_text())
    overrides = config.get(env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in shlex.split(overrides))


def _param(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    return "" if value is None else value


def _value(node: Any, params: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The value of an intrinsic in a Condition (Ref of a parameter, Join, the condition
    functions); what only AWS knows stays as it is."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and arg in params:
            return _param(params, arg)
        if key == "Condition":
            return conditions[arg]
        if key == "Fn::Equals":
            left, right = (_value(a, params, conditions) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not _value(arg[0], params, conditions)
        if key == "Fn::And":
            return all(_value(a, params, conditions) for a in arg)
        if key == "Fn::Or":
            return any(_value(a, params, conditions) for a in arg)
        if key == "Fn::Join":
            items = _value(arg[1], params, conditions)
            if isinstance(items, str):  # a CommaDelimitedList parameter
                items = items.split(",")
            return arg[0].join(str(i) for i in items)
    return node


def evaluate_conditions(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, bool]:
    conditions: dict[str, bool] = {}
    pending = dict(doc.get("Conditions") or {})
    while pending:  # conditions may name each other, in any order
        for name, expr in list(pending.items()):
            try:
                conditions[name] = bool(_value(expr, params, conditions))
            except KeyError:
                continue
            del pending[name]
    return conditions


def _strip(node: Any, conditions: dict[str, bool]) -> Any:
    _gone = object()

    def walk(n: Any) -> Any:
        if isinstance(n, dict):
            if set(n) == {"Fn::If"}:
                name, yes, no = n["Fn::If"]
                return walk(yes if conditions[name] else no)
            if n == {"Ref": "AWS::NoValue"}:
                return _gone
            out = {k: walk(v) for k, v in n.items()}
            return {k: v for k, v in out.items() if v is not _gone}
        if isinstance(n, list):
            return [v for v in (walk(i) for i in n) if v is not _gone]
        return n

    result = walk(node)
    return None if result is _gone else result


def render(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A (source or SAM-transformed) template as deployed with `params`: resources whose
    Condition is false removed, Fn::If resolved, AWS::NoValue dropped."""
    conditions = evaluate_conditions(doc, params)
    resources = {k: v for k, v in doc["Resources"].items() if conditions.get(v.get("Condition", ""), True)}
    rendered = _strip({**doc, "Resources": resources}, conditions)
    rendered["Conditions"] = conditions
    return rendered
