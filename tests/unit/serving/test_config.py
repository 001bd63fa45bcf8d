"""The server's configuration file: what it accepts, and a clear message for each thing it cannot serve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smflow.serving.config import ServerConfigError, check_paths, load_config, parse_config


def test_a_minimal_config_gets_sagemaker_defaults(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"containers": [{"name": "m", "model_dir": str(tmp_path)}]}))

    config = load_config(path)

    assert (config.host, config.port, config.mode, config.is_pipeline) == ("127.0.0.1", 0, "SingleModel", False)
    assert config.max_payload_bytes == 6 * 1024 * 1024
    check_paths(config)


@pytest.mark.parametrize(("fields", "message"), [
    ({"containers": []}, "containers: List should have at least 1 item"),
    ({"containers": [{"name": "m", "model_dir": "relative/dir"}]}, "model_dir must be an absolute path"),
    ({"containers": [{"name": "m"}]}, "container(s) m have no model_dir"),
    ({"containers": [{"name": "m", "model_dir": "/x"}, {"name": "m", "model_dir": "/y"}]}, "repeated: m"),
    ({"containers": [{"name": f"c{i}", "model_dir": "/x"} for i in range(16)]}, "at most 15 items"),
    ({"mode": "MultiModel", "containers": [{"name": "m"}]}, 'mode "MultiModel" needs "multi_model"'),
    ({"mode": "MultiModel", "containers": [{"name": "a"}, {"name": "b"}], "multi_model": {"model_root": "/r"}},
     "exactly one container"),
    ({"containers": [{"name": "m", "model_dir": "/x"}], "multi_model": {"model_root": "/r"}},
     'set "mode": "MultiModel"'),
    ({"mode": "Serial", "containers": [{"name": "m", "model_dir": "/x"}]}, "mode: Input should be"),
    ({"port": 70000, "containers": [{"name": "m", "model_dir": "/x"}]}, "port: Input should be less than"),
    ({"containers": [{"name": "m", "model_dir": "/x", "modeldir": "/y"}]}, "containers.0.modeldir: Extra inputs"),
])
def test_bad_configs_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ServerConfigError, match="server configuration: .*" + re.escape(message)):
        parse_config(fields)


def test_unreadable_files_and_missing_directories_are_named(tmp_path: Path) -> None:
    with pytest.raises(ServerConfigError, match=r"missing.json: cannot read the server configuration"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ServerConfigError, match=r"bad.json: not valid JSON"):
        load_config(tmp_path / "bad.json")
    config = parse_config({"containers": [{"name": "m", "model_dir": str(tmp_path / "gone")}]})
    with pytest.raises(ServerConfigError, match=r"container m: model_dir .*gone is not a directory"):
        check_paths(config)
