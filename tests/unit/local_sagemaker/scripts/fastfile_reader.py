"""Reads a FastFile channel and reports what it sees: the files, whether they are copies, whether writable."""

import json
import os

channel = os.environ["SM_CHANNEL_TRAIN"]
report = {"files": {}, "writable": None}
for root, _dirs, files in os.walk(channel):
    for name in files:
        path = os.path.join(root, name)
        with open(path) as fh:
            report["files"][os.path.relpath(path, channel)] = {"text": fh.read(), "link": os.path.islink(path)}
first = os.path.join(channel, sorted(report["files"])[0])
try:
    with open(first, "a") as fh:
        fh.write("tampered")
    report["writable"] = True
except OSError as e:
    report["writable"] = False
    report["error"] = type(e).__name__
with open("/opt/ml/model/report.json", "w") as fh:
    json.dump(report, fh)
