"""docker-compose.yaml, checked without Docker: structure, mounts, and every Airflow name it uses.

The CLI verbs, config options, auth manager and health URL are looked up in the installed Airflow, which is the
version of the image the file runs (test_airflow_image_is_3_3), so a typo or a rename in Airflow fails here.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
REQUIREMENTS = REPO / "requirements.txt"
LOCK = REPO / "requirements.lock"

LONG_RUNNING = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = ["airflow-init", *LONG_RUNNING]
REPO_MOUNTS = {"dags": "/opt/airflow/dags", "plugins": "/opt/airflow/plugins", "include": "/opt/airflow/include"}

# Compose interpolation: `$$` is a literal `$`; `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` read the
# shell or .env. The tests see the file as a user without a .env would: every variable at its default.
_INTERPOLATION = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)(?::?([-?+])([^}]*))?\}|([A-Za-z_]\w*))")


def _interpolate(value: str, seen: set[str] | None = None) -> str:
    def sub(m: re.Match[str]) -> str:
        if m[1]:
            return "$"
        name = m[2] or m[5]
        if seen is not None:
            seen.add(name)
        return m[4] if m[3] == "-" and m[4] is not None else ""

    return _INTERPOLATION.sub(sub, value)


def _resolve(node: Any, seen: set[str] | None = None) -> Any:
    if isinstance(node, str):
        return _interpolate(node, seen)
    if isinstance(node, dict):
        return {k: _resolve(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, seen) for v in node]
    return node


@cache
def _raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@cache
def _compose() -> dict[str, Any]:
    return _resolve(_raw())


def _service(name: str) -> dict[str, Any]:
    return _compose()["services"][name]


def _volumes(name: str) -> dict[str, str]:
    """Container path -> source (a host path relative to the compose file, or a named volume)."""
    mounts = {}
    for spec in _service(name).get("volumes", []):
        source, target = spec.split(":")[:2]
        mounts[target] = source
    return mounts


def _host_path(source: str) -> Path | None:
    return (COMPOSE_FILE.parent / source).resolve() if source.startswith((".", "/")) else None


def _init_script() -> str:
    command = _service("airflow-init")["command"]
    assert _service("airflow-init")["entrypoint"] == "/bin/bash" and command[0] == "-c"
    return command[1]


@cache
def _requirements() -> list[Requirement]:
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


@cache
def _airflow_parser() -> Any:
    from airflow.cli.cli_parser import get_parser

    return get_parser()


@cache
def _config_description() -> dict[str, Any]:
    from airflow.configuration import retrieve_configuration_description

    return retrieve_configuration_description(include_providers=False)


def _image_version() -> tuple[Version, str]:
    image = _service("airflow-scheduler")["image"]
    repo, tag = image.rsplit(":", 1)
    assert repo == "apache/airflow", image
    m = re.fullmatch(r"(\d+\.\d+\.\d+)-python(\d+\.\d+)", tag)
    assert m, f"{image}: expected a tag like 3.3.2-python3.11"
    return Version(m[1]), m[2]


def test_services_exist() -> None:
    services = _compose()["services"]
    assert {"postgres", *AIRFLOW_SERVICES} <= services.keys()
    assert services["postgres"]["image"] == "postgres:16"


def test_airflow_image_is_3_3() -> None:
    images = {_service(name)["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1, f"Airflow services run different images: {images}"
    version, python = _image_version()
    assert version.release[:2] == (3, 3)
    # The CLI and config checks below use the venv's Airflow, so it must be the image's.
    assert version == Version(importlib.metadata.version("apache-airflow"))
    # On 3.12 Airflow needs importlib-metadata>=7 while sagemaker-core (requirements.txt) needs <7.
    assert python == "3.11"


def test_repo_directories_are_mounted() -> None:
    for name in AIRFLOW_SERVICES:
        mounts = _volumes(name)
        for directory, target in REPO_MOUNTS.items():
            assert _host_path(mounts.get(target, "")) == REPO / directory, f"{name}: {target}"
            assert (REPO / directory).is_dir()
        assert _host_path(mounts["/requirements.txt"]) == REQUIREMENTS and REQUIREMENTS.is_file()
        # The checkout itself is what pip installs, which registers the `airflow.plugins` entry point.
        assert _host_path(mounts["/opt/smflow"]) == REPO
        named = {source for source in mounts.values() if _host_path(source) is None}
        assert named <= (_compose().get("volumes") or {}).keys(), f"{name}: undeclared named volumes"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["airflow.plugins"] == {"smflow": "smflow.plugin:SmflowPlugin"}
    assert list((REPO / "dags").glob("*.py")), "the dags mount would give the dag-processor nothing to parse"


def test_requirements_are_installed_at_start() -> None:
    commands = pytest.importorskip("pip._internal.commands", reason="pip parses _PIP_ADDITIONAL_REQUIREMENTS")
    for name in LONG_RUNNING:
        value = _service(name)["environment"]["_PIP_ADDITIONAL_REQUIREMENTS"]
        # The image's entrypoint runs `pip install --root-user-action ignore ${_PIP_ADDITIONAL_REQUIREMENTS}`.
        options, args = commands.create_command("install").parse_args(["--root-user-action", "ignore", *value.split()])
        assert options.requirements == ["/requirements.txt"] and options.editables == ["/opt/smflow"], value
        assert not args, value
        mounts = _volumes(name)
        assert _host_path(mounts["/requirements.txt"]) == REQUIREMENTS
        assert _host_path(mounts["/opt/smflow"]) == REPO and (REPO / "pyproject.toml").is_file()
    assert _service("airflow-init")["environment"]["_PIP_ADDITIONAL_REQUIREMENTS"] == ""


def test_requirements_txt_lines_are_valid_and_match_the_lock() -> None:
    reqs = _requirements()
    names = [canonicalize_name(r.name) for r in reqs]
    assert len(names) == len(set(names)), "a package is listed twice"
    pinned = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].split("==")
            pinned[canonicalize_name(name)] = Version(version.strip())
    for req in reqs:
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req}: not in requirements.lock, so the tests never run with it"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{req} excludes the locked {pinned[name]}"
    # Pinning the image's Airflow keeps pip from replacing it while installing the rest.
    airflow = next(r for r in reqs if canonicalize_name(r.name) == "apache-airflow")
    assert str(airflow.specifier) == f"=={_image_version()[0]}"


def test_airflow_services_wait_for_a_healthy_postgres() -> None:
    postgres = _service("postgres")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    env = postgres["environment"]
    conn = urlsplit(_service("airflow-scheduler")["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert conn.scheme == "postgresql+psycopg2" and conn.hostname == "postgres"
    assert (conn.username, conn.password, conn.path) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"],
                                                         "/" + env["POSTGRES_DB"])
    for name in AIRFLOW_SERVICES:
        depends_on = _service(name)["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name
        for target, dependency in depends_on.items():
            if dependency["condition"] == "service_healthy":
                assert "healthcheck" in _service(target), f"{name} waits for {target}, which has no healthcheck"
        if name in LONG_RUNNING:
            assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}, name
            assert "healthcheck" in _service(name), name


def test_commands_are_airflow_cli_verbs() -> None:
    parser = _airflow_parser()
    for name, verb in LONG_RUNNING.items():
        command = _service(name)["command"]
        argv = shlex.split(command) if isinstance(command, str) else command
        assert argv == [verb], name
        assert parser.parse_args(argv).func, name
    # Every other `airflow …` the file runs: airflow-init's script and the healthchecks.
    lines = _init_script().splitlines()
    lines += [_service(name)["healthcheck"]["test"][1] for name in LONG_RUNNING
              if _service(name)["healthcheck"]["test"][0] == "CMD-SHELL"]
    calls = [m[1] for line in lines if (m := re.match(r"\s*(?:/entrypoint\s+)?airflow\s+(.*)$", line))]
    assert any(c.startswith("db migrate") for c in calls), calls
    for call in calls:
        try:
            parser.parse_args(shlex.split(call))
        except SystemExit:
            pytest.fail(f"`airflow {call}` is not a valid Airflow {_image_version()[0]} command")


def test_airflow_env_vars_are_airflow_config_options() -> None:
    description = _config_description()
    for name in AIRFLOW_SERVICES:
        env = _service(name)["environment"]
        for var, value in env.items():
            # Compose wants strings; an unquoted true/false would reach YAML as a bool.
            assert isinstance(value, str), f"{name}: {var} should be a quoted string"
            m = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", var)
            if not m:
                continue
            section, key = m[1].lower(), m[2].lower()
            assert key in description.get(section, {}).get("options", {}), f"{var}: no [{section}] {key} in Airflow"


def test_airflow_settings() -> None:
    from airflow.executors.executor_constants import CORE_EXECUTOR_NAMES

    env = _service("airflow-scheduler")["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "LocalExecutor" in CORE_EXECUTOR_NAMES
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    # All Airflow containers share the same settings (the x-airflow-common anchor), signing keys included.
    for name in AIRFLOW_SERVICES:
        shared = {k: v for k, v in _service(name)["environment"].items() if k.startswith(("AIRFLOW__", "SMFLOW_"))}
        assert shared == {k: v for k, v in env.items() if k.startswith(("AIRFLOW__", "SMFLOW_"))}, name
    # HS512 (what Airflow picks for a shared secret) wants at least 64 bytes.
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"].encode()) >= 64
    assert env["AIRFLOW__API__SECRET_KEY"]
    url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("http", "airflow-apiserver", 8080, "/execution/")
    assert "8080:8080" in _service("airflow-apiserver")["ports"]


def test_apiserver_healthcheck_is_an_airflow_route() -> None:
    import airflow

    test = _service("airflow-apiserver")["healthcheck"]["test"]
    url = urlsplit(test[-1])
    assert test[:3] == ["CMD", "curl", "--fail"] and (url.hostname, url.port) == ("localhost", 8080)
    spec_file = Path(airflow.__file__).parent / "api_fastapi" / "core_api" / "openapi" / "v2-rest-api-generated.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert url.path in yaml.load(spec_file.read_text(), Loader=loader)["paths"]


def test_simple_auth_manager_admin_login() -> None:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager, SimpleAuthManagerRole

    env = _service("airflow-apiserver")["environment"]
    module, _, cls = env["AIRFLOW__CORE__AUTH_MANAGER"].rpartition(".")
    assert (module, cls) == (SimpleAuthManager.__module__, SimpleAuthManager.__name__)
    user, role = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")
    assert (user, role) == ("airflow", "admin") and role.upper() in SimpleAuthManagerRole.__members__
    # airflow-init writes the password file into a volume the API server mounts, and hands it to its uid.
    password_dir = str(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent)
    assert _host_path(_volumes("airflow-apiserver")[password_dir]) is None
    init = _service("airflow-init")
    assert init["environment"]["_AIRFLOW_WWW_USER_USERNAME"] == user
    assert init["environment"]["_AIRFLOW_WWW_USER_PASSWORD"]
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in _init_script()
    chown = re.search(r"^chown -R \S+ (.*)$", _init_script(), re.M)
    assert chown and password_dir in chown[1].split()


def test_airflow_init_writes_the_login_the_api_server_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run airflow-init's password step, then let the simple auth manager start on its file as the API server does."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    init_env, api_env = _service("airflow-init")["environment"], _service("airflow-apiserver")["environment"]
    heredoc = re.search(r"<<'PY'\n(.*?)\nPY\n", _init_script(), re.S)
    assert heredoc
    password_file = tmp_path / Path(api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).name
    step_env = {k: init_env[k] for k in ("_AIRFLOW_WWW_USER_USERNAME", "_AIRFLOW_WWW_USER_PASSWORD")}
    step_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(password_file)
    subprocess.run([sys.executable, "-c", heredoc[1]], env=step_env, check=True, capture_output=True, timeout=30)

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"])
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(password_file))
    SimpleAuthManager().init()  # would add a random password for a user missing from the file
    assert SimpleAuthManager.get_passwords() == {"airflow": "airflow"}
    assert [u.username for u in SimpleAuthManager.get_users()] == ["airflow"]


def test_smflow_state_and_pipelines() -> None:
    env = _service("airflow-scheduler")["environment"]
    chown = re.search(r"^chown -R \S+ (.*)$", _init_script(), re.M)
    assert chown
    for name in AIRFLOW_SERVICES:
        mounts = _volumes(name)
        # SMFLOW_HOME is one named volume for every container: the scheduler's jobs and the API server's views
        # read the same store and registry.
        assert _host_path(mounts[env["SMFLOW_HOME"]]) is None, name
    assert env["SMFLOW_HOME"] in chown[1].split(), "airflow-init must hand SMFLOW_HOME to the Airflow uid"
    pipelines = Path(env["SMFLOW_PIPELINES_DIR"])
    target = next(t for t in REPO_MOUNTS.values() if pipelines.is_relative_to(t))
    source = _host_path(_volumes("airflow-dag-processor")[target])
    assert source is not None, f"{target} is not mounted from the checkout"
    host = source / pipelines.relative_to(target)
    assert list(host.glob("*/pipeline.yaml")), f"{host}: no pipeline specs for the dag-processor"


def test_init_script_is_valid_bash_and_python() -> None:
    script = _init_script()
    result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    heredoc = re.search(r"<<'PY'\n(.*?)\nPY\n", script, re.S)
    assert heredoc
    compile(heredoc[1], "airflow-init heredoc", "exec")


def test_compose_variables_are_documented() -> None:
    seen: set[str] = set()
    _resolve(_raw(), seen)
    header = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if line.startswith("#"))
    undocumented = sorted(v for v in seen if v not in header)
    assert not undocumented, f"variables read from the shell/.env but not described in the header: {undocumented}"
