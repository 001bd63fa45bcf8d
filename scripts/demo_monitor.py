"""The demo's drift half (`make demo`, after demo_batch.py): the approved version's baseline was sketched when it
was trained; the `diabetes__monitor` DAG checks the batch just predicted (held back from training: no drift),
then a shifted batch (an older, heavier population: drift), which updates the retrain Asset; the retraining it
starts registers a new version that records the drift report.

Everything goes through the `smflow` command line a user would type; only the shifted slice is written here.
Without a scheduler (`smflow run` is `dag.test()`), the run Airflow's scheduler would start on the Asset is started
here, naming the report it answers (`retrain_report`) and letting a version as good as the approved one through
the gate (`gate_margin: 0`): the data it trains on is the same demo data, so it cannot beat the approved one.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from smflow import settings
from smflow.compile.naming import run_key
from smflow.local_sagemaker.store import LocalStore
from smflow.spec import load_pipeline

SPEC = Path(__file__).resolve().parents[1] / "include" / "pipelines" / "diabetes" / "pipeline.yaml"
GROUP = "diabetes-regressor"
# A population the model never saw: older, heavier, higher blood pressure and serum values.
SHIFT = {"age": 15.0, "bmi": 6.0, "bp": 20.0, "s1": 40.0, "s5": 0.8, "s6": 20.0}


def smflow(*args: str, capture: bool = False) -> str:
    command = [str(Path(sys.executable).with_name("smflow")), *args]
    if not capture:
        print("$ smflow " + shlex.join(args), flush=True)
    done = subprocess.run(command, text=True, capture_output=capture)
    if done.returncode != 0:
        sys.exit(f"smflow {' '.join(args)} failed (exit {done.returncode}){': ' + done.stderr if capture else ''}")
    return done.stdout if capture else ""


def shifted(rows: bytes, columns: list[str]) -> bytes:
    """The rows with SHIFT added to its columns (header-less CSV, in `columns` order)."""
    out = []
    for line in rows.decode().splitlines():
        values = line.split(",")
        for name, delta in SHIFT.items():
            index = columns.index(name)
            values[index] = f"{float(values[index]) + delta:.4g}"
        out.append(",".join(values))
    return ("\n".join(out) + "\n").encode()


def local_file(uri: str) -> Path:
    return settings.store_root() / uri.removeprefix("s3://")


def main() -> None:
    spec = load_pipeline(SPEC).spec
    unit = spec.models["regressor"]
    assert unit.batch is not None and unit.monitor is not None and unit.monitor.columns is not None
    store = LocalStore(settings.store_root())
    versions = json.loads(smflow("registry", "list", "--group", GROUP, "--json", capture=True))
    approved = max((v for v in versions if v["status"] == "Approved"), key=lambda v: v["version"], default=None)
    if approved is None:
        sys.exit(f"no Approved version in {GROUP}: run scripts/demo_batch.py first (it approves one)")
    output = f"s3://{spec.defaults.bucket}/{spec.prefix}/monitoring/regressor/"

    run = approved.get("metadata", {}).get("smflow:run_id", "")
    runs = f"s3://{spec.defaults.bucket}/{spec.prefix}/runs/{run_key(run)}/regressor-preprocess/"
    split = [uri for uri in store.list(runs) if uri.endswith("/output/test_features/test.csv")]
    if not split:
        sys.exit(f"the test split of run {run} is not in the store ({runs}); run `make demo` again")
    quality = unit.monitor.quality
    if quality is not None:  # the held-back batch's labels arrive: its model quality can be measured too
        labels = f"{quality.labels}held-back-v{approved['version']}.csv"
        store.write_bytes(labels, store.read_bytes(split[-1].replace("/test_features/", "/test_labels/")))
    print(f"\nDrift monitoring against version {approved['version']}'s baseline (sketched from its training data "
          "when it was trained). The batch just predicted is held back from the same data, and its labels "
          "arrived:\n", flush=True)
    smflow("run", str(SPEC), "--dag", "monitor")

    target = f"{unit.batch.input}shifted-population.csv"
    store.write_bytes(target, shifted(store.read_bytes(split[-1]), unit.monitor.columns))
    print(f"\nA batch from another population arrived: {target} ({', '.join(SHIFT)} shifted)\n", flush=True)
    smflow("run", str(SPEC), "--dag", "monitor")

    record = json.loads(store.read_bytes(output + "_retrain.json"))
    print(f"\nDrift updated smflow://{spec.pipeline}/retrain (drifted: {', '.join(record['drifted'])}); the "
          f"scheduler starts {spec.pipeline}__train on it. Here, without a scheduler, that run is started by "
          "hand:\n", flush=True)
    conf = json.dumps({"retrain_report": record["report"], "gate_margin": 0})
    smflow("run", str(SPEC), "--dag", "train", "--conf", conf)
    versions = json.loads(smflow("registry", "list", "--group", GROUP, "--json", capture=True))
    newest = max(versions, key=lambda v: v["version"])
    if newest["version"] <= approved["version"]:
        sys.exit("the retraining registered no new version (see its gate above)")
    trigger = newest.get("metadata", {}).get("smflow:retrain_trigger")
    print(f"\nRetrained: version {newest['version']} ({newest['status']}) registered, recording the drift report "
          f"that started it: {trigger}")
    print(f"Drift report (HTML): {local_file(record['html'])}")
    clean = f"{output}held-back-v{approved['version']}.csv/drift.html"
    if store.exists(clean):
        print(f"No-drift report of the held-back batch: {local_file(clean)}")


if __name__ == "__main__":
    main()
