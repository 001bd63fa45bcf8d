"""Leaves a marker in its own /opt/ml, waits for its sibling job to do the same, then lists what it can see."""

import json
import os
import sys
import time

me = sys.argv[1]
rendezvous = os.environ["RENDEZVOUS"]
with open(f"/opt/ml/processing/marker-{me}", "w") as fh:
    fh.write(me)
open(os.path.join(rendezvous, me), "w").close()
deadline = time.time() + 20
while len(os.listdir(rendezvous)) < 2 and time.time() < deadline:
    time.sleep(0.02)
both_running = len(os.listdir(rendezvous)) == 2
os.makedirs("/opt/ml/processing/output/seen", exist_ok=True)
with open("/opt/ml/processing/output/seen/seen.json", "w") as fh:
    json.dump({"both_running": both_running, "seen": sorted(os.listdir("/opt/ml/processing"))}, fh)
