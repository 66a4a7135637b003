"""Regenerates src/catalog/builtin.json and docs/catalog.md from data.py.

Usage (from the repository root): python3 scripts/catalog/gen.py

data.py holds every price, limit, latency and benchmark figure with its source key; this script
applies the benchmark -> task-kind mapping documented in docs/catalog.md (score / 100, first
published benchmark in each kind's list wins, default = GPQA) and writes both files, so the JSON
and the tables in the document cannot drift apart.
"""
import json
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from data import *  # noqa: E402,F401,F403

# Cache-write, batch and long-context prices and retirement dates, from `taskroute catalog import`
# (scripts/catalog/fresh.py writes this file).
_fresh = json.load(open(os.path.join(HERE, "fresh.json")))
FRESH, FRESH_SRC = _fresh["models"], _fresh["source"]

def r3(x): return round(x + 1e-12, 3)

def priors(bench):
    q = {}
    used = {}
    for kind, keys in KIND_MAP.items():
        for k in keys:
            if k in bench:
                q[kind] = r3(bench[k][0] / 100.0)
                used[kind] = k
                break
    for k in ("GPQA", "GPQA_MAIN"):
        if k in bench:
            q["default"] = r3(bench[k][0] / 100.0)
            break
    return q, used

def price_src(m):
    if "price_src" in m: return m["price_src"]
    return {"openai": OAI_PRICING, "anthropic": ANT_PRICING}.get(m["provider"], "")

out_models = []
for m in M:
    q, used = priors(m["bench"])
    assert "default" in q, m["id"]
    srcs = sorted({v[1] for v in m["bench"].values()})
    prices = {"input": m["prices"][0], "output": m["prices"][1]}
    if m["prices"][2] is not None: prices["cached_input"] = m["prices"][2]
    extra = FRESH.get(m["id"], {})
    prices.update(extra.get("prices", {}))
    src = "prices: " + price_src(m) + "; limits: " + m["limits_src"] + "; quality priors (docs/catalog.md mapping): " + " | ".join(SRC[s] for s in srcs)
    if m.get("same_as"):
        src += " (benchmarks of the same model as served by Anthropic)"
    e = {"id": m["id"], "provider": m["provider"]}
    if m.get("api_name"): e["api_name"] = m["api_name"]
    e["prices"] = prices
    e["context_window"] = m["ctx"]; e["max_output_tokens"] = m["out"]
    e["capabilities"] = m["caps"]
    if m.get("tags"): e["tags"] = m["tags"]
    if m.get("latency"):
        t, s, ls = m["latency"]
        e["latency"] = {"ttft_ms": t, "output_tokens_per_sec": s}
        src += "; latency: " + SRC[ls]
    e["quality"] = q
    e["source"] = src
    if extra:
        src += "; cache-write, batch and long-context prices, retirement: " + FRESH_SRC
        e["source"] = src
    e["as_of"] = AS_OF
    if extra.get("retires"): e["retires"] = extra["retires"]
    out_models.append(e)

ids = [e["id"] for e in out_models]
assert len(ids) == len(set(ids))

lines = ['{', f'  "as_of": "{AS_OF}",', '  "models": [']
for i, e in enumerate(out_models):
    parts = []
    for k, v in e.items():
        parts.append(f'      {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}')
    lines.append('    {\n' + ',\n'.join(parts) + '\n    }' + (',' if i + 1 < len(out_models) else ''))
lines += ['  ]', '}', '']
open(os.path.join(ROOT, "src/catalog/builtin.json"), "w").write('\n'.join(lines))

# markdown tables
md = []
md.append("| id | provider | in $/M | out $/M | cached $/M | context | max out | latency (TTFT ms / tok/s) | prices seen in |")
md.append("|---|---|---:|---:|---:|---:|---:|---|---|")
for m, e in zip(M, out_models):
    p = e["prices"]; lat = e.get("latency")
    md.append(f"| `{e['id']}` | {e['provider']} | {p['input']} | {p['output']} | {p.get('cached_input', '—')} | {e['context_window']:,} | {e['max_output_tokens']:,} | " + (f"{lat['ttft_ms']:,} / {lat['output_tokens_per_sec']} ({m['latency'][2]})" if lat else "—") + " | " + PRICE_CHECK.get(e['id'], "not re-checked") + " |")
table1 = '\n'.join(md)

md = []
kinds = ["reasoning", "math", "code_generation", "code_completion", "chat", "planning", "extraction"]
md.append("| id | " + " | ".join(kinds) + " | default | benchmark figures used (source key; ✓ = re-checked against a stored copy of the source or a page quoting it) |")
md.append("|---|" + "---:|" * (len(kinds) + 1) + "---|")
for m, e in zip(M, out_models):
    q = e["quality"]
    figs = []
    for k, (v, s, ok) in m["bench"].items():
        figs.append(f"{BENCH_NAMES[k]} {v}% ({s}{' ✓' if ok else ''})")
    md.append(f"| `{e['id']}` | " + " | ".join(str(q.get(k, "—")) for k in kinds) + f" | {q['default']} | " + "; ".join(figs) + " |")
table2 = '\n'.join(md)
srcs = '\n'.join(f"- `{k}`: {v}" for k, v in SRC.items())

head = open(os.path.join(HERE, "doc_head.md")).read()
tail = open(os.path.join(HERE, "doc_tail.md")).read()
c = Counter(e["provider"] for e in out_models)
head = head.replace("TABLE1", table1).replace("TABLE2", table2).replace("SRCS", srcs)
head = head.replace("FIGCOUNT", str(len(out_models)))
for k in ["openai", "anthropic", "bedrock", "google", "deepseek", "mistral"]:
    head = head.replace(k.upper(), str(c[k]))
tail = tail.replace("LATCOUNT", str(sum(1 for e in out_models if "latency" in e)))
open(os.path.join(ROOT, "docs/catalog.md"), "w").write(head + tail)
print(len(out_models), "models", dict(c))
