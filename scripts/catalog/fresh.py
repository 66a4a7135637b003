"""Regenerates scripts/catalog/fresh.json (the built-in models' cache-write, batch and long-context
prices and retirement dates) from `taskroute catalog import`, so the built-in catalog bills exactly
as an import of the same LiteLLM file does.

Usage (from the repository root; see docs/catalog.md for how to get the file):
    taskroute catalog import --litellm model_prices_and_context_window_backup.json \
        --provider openai,anthropic,bedrock,google --replace -o /tmp/import.json
    python3 scripts/catalog/fresh.py /tmp/import.json "litellm 1.110.2"
    python3 scripts/catalog/gen.py

Taken from the import, for each built-in model with the same id: the cache-write prices, the batch
list, the long-context tier, the cached-input price where the built-in entry has none, and the
retirement date. Input, output and cached-input prices, windows and capabilities stay the
hand-checked ones of data.py (`taskroute catalog diff` shows where they differ).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import M  # noqa: E402

imported = {m["id"]: m for m in json.load(open(sys.argv[1]))["models"]}
fresh = {}
for m in M:
    i = imported.get(m["id"])
    if i is None:
        continue
    p = i["prices"]
    extra = {k: p[k] for k in ("cache_write_5m", "cache_write_1h", "batch", "long_context") if k in p}
    if m["prices"][2] is None and "cached_input" in p:
        extra["cached_input"] = p["cached_input"]
    e = {}
    if i.get("retires"):
        e["retires"] = i["retires"]
    if extra:
        e["prices"] = extra
    if e:
        fresh[m["id"]] = e
out = {"source": f"LiteLLM price map ({sys.argv[2]}, PyPI)", "models": fresh}
with open(os.path.join(HERE, "fresh.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(len(fresh), "models refreshed")
