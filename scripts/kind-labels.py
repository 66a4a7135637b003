#!/usr/bin/env python3
"""Writes labelled prompts for `taskroute classify` from ../shared/data (never copied into the crate):
MT-Bench first turns by category (coding -> code_generation, math, reasoning, extraction; writing,
roleplay, stem, humanities -> chat), RouterBench's MBPP prompts (code_generation) and GSM8K (math).
With --second-turns, MT-Bench's second turns too (source "mt-bench-turn2", same labels): follow-ups
such as "Now output it as JSON", which lean on the first turn's answer.

    python3 scripts/kind-labels.py ../shared/data > target/kind-labels.jsonl
    python3 scripts/kind-labels.py ../shared/data --second-turns > target/kind-labels-2turns.jsonl
"""
import json
import sys

args = [a for a in sys.argv[1:] if a != "--second-turns"]
second_turns = "--second-turns" in sys.argv[1:]
data = args[0] if args else "../shared/data"
MTBENCH = {"coding": "code_generation", "math": "math", "reasoning": "reasoning", "extraction": "extraction",
           "writing": "chat", "roleplay": "chat", "stem": "chat", "humanities": "chat"}
out = sys.stdout
with open(f"{data}/routellm/mtbench_questions.jsonl") as f:
    for line in f:
        q = json.loads(line)
        out.write(json.dumps({"text": q["turns"][0], "kind": MTBENCH[q["category"]], "source": "mt-bench"}) + "\n")
        if second_turns and len(q["turns"]) > 1:
            out.write(json.dumps({"text": q["turns"][1], "kind": MTBENCH[q["category"]], "source": "mt-bench-turn2"}) + "\n")
with open(f"{data}/routerbench/prompts.jsonl") as f:
    for line in f:
        p = json.loads(line)
        if p["eval_name"] == "mbpp":
            out.write(json.dumps({"text": p["query"], "kind": "code_generation", "source": "mbpp"}) + "\n")
with open(f"{data}/routellm/gsm8k_prompts.jsonl") as f:
    for line in f:
        p = json.loads(line)
        out.write(json.dumps({"text": p["prompt"], "kind": "math", "source": "gsm8k"}) + "\n")
