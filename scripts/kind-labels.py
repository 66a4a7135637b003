#!/usr/bin/env python3
"""Writes labelled prompts for `taskroute classify` from ../shared/data (never copied into the crate):
MT-Bench first turns by category (coding -> code_generation, math, reasoning, extraction; writing,
roleplay, stem, humanities -> chat), RouterBench's MBPP prompts (code_generation) and GSM8K (math).

    python3 scripts/kind-labels.py ../shared/data > target/kind-labels.jsonl
"""
import json
import sys

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
MTBENCH = {"coding": "code_generation", "math": "math", "reasoning": "reasoning", "extraction": "extraction",
           "writing": "chat", "roleplay": "chat", "stem": "chat", "humanities": "chat"}
out = sys.stdout
with open(f"{data}/routellm/mtbench_questions.jsonl") as f:
    for line in f:
        q = json.loads(line)
        out.write(json.dumps({"text": q["turns"][0], "kind": MTBENCH[q["category"]], "source": "mt-bench"}) + "\n")
with open(f"{data}/routerbench/prompts.jsonl") as f:
    for line in f:
        p = json.loads(line)
        if p["eval_name"] == "mbpp":
            out.write(json.dumps({"text": p["query"], "kind": "code_generation", "source": "mbpp"}) + "\n")
with open(f"{data}/routellm/gsm8k_prompts.jsonl") as f:
    for line in f:
        p = json.loads(line)
        out.write(json.dumps({"text": p["prompt"], "kind": "math", "source": "gsm8k"}) + "\n")
