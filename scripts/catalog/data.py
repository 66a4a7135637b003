# Source data for src/catalog/builtin.json and docs/catalog.md (generated; see gen.py)
AS_OF = "2026-11-26"

# Benchmark -> kind mapping, in priority order per kind.
KIND_MAP = {
    "reasoning": ["GPQA", "GPQA_MAIN"],
    "math": ["AIME25", "AIME24", "MATH500", "MATH"],
    "code_generation": ["SWEV", "LCB"],
    "code_completion": ["HumanEval", "HumanEval+"],
    "chat": ["IFEval"],
    "planning": ["TAU_RETAIL", "TAU2_RETAIL"],
    "extraction": ["DROP"],
}
BENCH_NAMES = {
    "GPQA": "GPQA Diamond", "AIME25": "AIME 2025", "AIME24": "AIME 2024", "MATH500": "MATH-500",
    "MATH": "MATH", "SWEV": "SWE-bench Verified", "LCB": "LiveCodeBench", "HumanEval": "HumanEval",
    "HumanEval+": "HumanEval+", "IFEval": "IFEval", "TAU_RETAIL": "τ-bench retail",
    "TAU2_RETAIL": "τ²-bench retail", "DROP": "DROP (F1)", "GPQA_MAIN": "GPQA (main set)",
}

# Named sources (short keys used in the per-model benchmark citations).
SRC = {
    "oai-41": "OpenAI, 'Introducing GPT-4.1 in the API' (2025-04-14), https://openai.com/index/gpt-4-1/ (benchmark appendix)",
    "oai-o3": "OpenAI, 'Introducing OpenAI o3 and o4-mini' (2025-04-16), https://openai.com/index/introducing-o3-and-o4-mini/",
    "oai-gpt5": "OpenAI, 'Introducing GPT-5 for developers' (2025-08-07), https://openai.com/index/introducing-gpt-5-for-developers/ (evals appendix)",
    "ant-s4": "Anthropic, 'Introducing Claude 4' (2025-05-22), https://www.anthropic.com/news/claude-4",
    "ant-o41": "Anthropic, 'Claude Opus 4.1' (2025-08-05), https://www.anthropic.com/news/claude-opus-4-1",
    "ant-s45": "Anthropic, 'Introducing Claude Sonnet 4.5' (2025-09-29), https://www.anthropic.com/news/claude-sonnet-4-5",
    "ant-h45": "Anthropic, 'Introducing Claude Haiku 4.5' (2025-10-15), https://www.anthropic.com/news/claude-haiku-4-5",
    "ant-o45": "Anthropic, 'Introducing Claude Opus 4.5' (2025-11-24), https://www.anthropic.com/news/claude-opus-4-5",
    "ant-h35": "Anthropic, 'Claude 3.5 Haiku' model card addendum / launch table (2024-10-22), https://www.anthropic.com/news/3-5-models-and-computer-use",
    "nova-tr": "Amazon, 'The Amazon Nova Family of Models: Technical Report and Model Card' (2024-12), https://www.amazon.science/publications/the-amazon-nova-family-of-models-technical-report-and-model-card",
    "llama33": "Meta, Llama 3.3 70B Instruct model card (2024-12-06), https://github.com/meta-llama/llama-models/blob/main/models/llama3_3/MODEL_CARD.md",
    "llama4": "Meta, Llama 4 model card, instruction-tuned benchmarks (2025-04-05), https://github.com/meta-llama/llama-models/blob/main/models/llama4/MODEL_CARD.md",
    "gem25": "Google, Gemini 2.5 model cards / 'Gemini 2.5: Our most intelligent models are getting even better' and the Gemini 2.5 technical report benchmark tables (2025-06-17), https://deepmind.google/models/gemini/",
    "ds32": "DeepSeek, DeepSeek-V3.2-Exp model card benchmark table (2025-09-29), https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp",
    "mis-s32": "Mistral AI, Mistral-Small-3.2-24B-Instruct-2506 model card (2025-06), https://huggingface.co/mistralai/Mistral-Small-3.2-24B-Instruct-2506",
    "oai-se": "OpenAI simple-evals results table (zero-shot CoT; o-series at default effort, no tools), https://github.com/openai/simple-evals#benchmark-results",
    "oai-54mini": "OpenAI, 'Introducing GPT-5.4 mini and nano' (2026-03-17), https://openai.com/index/introducing-gpt-5-4-mini-and-nano/ (xhigh reasoning effort)",
    "aa-benchlm": "Artificial Analysis medians (output tokens/s, time to first answer chunk) as republished at https://benchlm.ai/llm-speed (data 2026-04-07)",
    "aa-induwara": "Artificial Analysis medians as republished at https://induwara.lk/tools/ai-llm-speed-comparison (verified 2026-06-24)",
}

OAI_PRICING = "https://developers.openai.com/api/docs/pricing"
ANT_PRICING = "https://platform.claude.com/docs/en/about-claude/pricing"
BR_PRICING = "https://aws.amazon.com/bedrock/pricing/"
BR_IDS = "https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html"

# caps shorthands
C_OAI = ["tools", "vision", "json_mode", "streaming"]
C_OAI_R = ["tools", "vision", "json_mode", "streaming", "reasoning"]
C_CLAUDE = ["tools", "vision", "streaming", "reasoning"]

# Each model: id, provider, api_name, prices (in, out, cached), ctx, max_out, caps, tags,
# latency (ttft_ms, tps, src) or None, bench {key: (value, srckey, verified_bool)}, limits/price source urls
M = []
def add(**kw):
    M.append(kw)

# ---------------- OpenAI ----------------
add(id="gpt-5", provider="openai", prices=(1.25, 10.0, 0.125), ctx=400000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5",
    bench={"GPQA": (85.7, "oai-gpt5", True), "AIME25": (94.6, "oai-gpt5", True), "SWEV": (74.9, "oai-gpt5", True)})
add(id="gpt-5-mini", provider="openai", prices=(0.25, 2.0, 0.025), ctx=400000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5-mini",
    bench={"GPQA": (81.6, "oai-54mini", True), "AIME25": (91.1, "oai-gpt5", False), "SWEV": (71.0, "oai-gpt5", False)})
add(id="gpt-5-nano", provider="openai", prices=(0.05, 0.40, 0.005), ctx=400000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5-nano",
    bench={"GPQA": (71.2, "oai-gpt5", False), "AIME25": (85.2, "oai-gpt5", False), "SWEV": (54.7, "oai-gpt5", False)})
add(id="gpt-4.1", provider="openai", prices=(2.0, 8.0, 0.50), ctx=1047576, out=32768, caps=C_OAI,
    limits_src="https://developers.openai.com/api/docs/models/gpt-4.1",
    bench={"GPQA": (66.3, "oai-se", True), "AIME24": (48.1, "oai-41", False), "SWEV": (54.6, "oai-41", True),
           "HumanEval": (94.5, "oai-se", True), "IFEval": (87.4, "oai-41", False), "TAU_RETAIL": (68.0, "oai-41", False),
           "DROP": (79.4, "oai-se", True)})
add(id="gpt-4.1-mini", provider="openai", prices=(0.40, 1.60, 0.10), ctx=1047576, out=32768, caps=C_OAI,
    limits_src="https://developers.openai.com/api/docs/models/gpt-4.1-mini",
    bench={"GPQA": (65.0, "oai-se", True), "AIME24": (49.6, "oai-41", False), "SWEV": (23.6, "oai-41", False),
           "HumanEval": (93.8, "oai-se", True), "IFEval": (84.1, "oai-41", False), "TAU_RETAIL": (55.8, "oai-41", False),
           "DROP": (81.0, "oai-se", True)})
add(id="gpt-4.1-nano", provider="openai", prices=(0.10, 0.40, 0.025), ctx=1047576, out=32768, caps=C_OAI,
    limits_src="https://developers.openai.com/api/docs/models/gpt-4.1-nano",
    latency=(630, 181, "aa-benchlm"),
    bench={"GPQA": (50.3, "oai-se", True), "AIME24": (29.4, "oai-41", False), "HumanEval": (87.0, "oai-se", True),
           "IFEval": (74.5, "oai-41", False), "TAU_RETAIL": (22.6, "oai-41", False), "DROP": (82.2, "oai-se", True)})
add(id="gpt-4o", provider="openai", prices=(2.50, 10.0, 1.25), ctx=128000, out=16384, caps=C_OAI,
    limits_src="https://developers.openai.com/api/docs/models/gpt-4o",
    latency=(450, 131, "aa-induwara"),
    bench={"GPQA": (53.1, "oai-se", True), "AIME24": (13.1, "oai-41", False), "SWEV": (33.2, "oai-41", True),
           "HumanEval": (90.2, "oai-se", True), "IFEval": (81.0, "oai-41", False), "TAU_RETAIL": (60.3, "oai-41", False),
           "DROP": (79.8, "oai-se", True)})
add(id="gpt-4o-mini", provider="openai", prices=(0.15, 0.60, 0.075), ctx=128000, out=16384, caps=C_OAI,
    limits_src="https://developers.openai.com/api/docs/models/gpt-4o-mini",
    bench={"GPQA": (40.2, "oai-se", True), "AIME24": (8.6, "oai-41", False), "SWEV": (8.7, "oai-41", False),
           "HumanEval": (87.2, "oai-se", True), "IFEval": (78.4, "oai-41", False), "DROP": (79.7, "oai-se", True)})
add(id="o3", provider="openai", prices=(2.0, 8.0, 0.50), ctx=200000, out=100000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/o3",
    bench={"GPQA": (82.8, "oai-se", True), "AIME25": (88.9, "oai-o3", False), "SWEV": (69.1, "oai-o3", True),
           "HumanEval": (87.4, "oai-se", True), "DROP": (80.6, "oai-se", True)})
add(id="o4-mini", provider="openai", prices=(1.10, 4.40, 0.275), ctx=200000, out=100000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/o4-mini",
    latency=(21940, 161, "aa-benchlm"),
    bench={"GPQA": (77.6, "oai-se", True), "AIME25": (92.7, "oai-o3", False), "SWEV": (68.1, "oai-o3", False),
           "HumanEval": (97.3, "oai-se", True), "DROP": (77.7, "oai-se", True)})

add(id="gpt-5.4", provider="openai", prices=(2.50, 15.0, 0.25), ctx=1050000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5.4",
    bench={"GPQA": (93.0, "oai-54mini", True)})
add(id="gpt-5.4-mini", provider="openai", prices=(0.75, 4.50, 0.075), ctx=400000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5.4-mini",
    latency=(3850, 201, "aa-benchlm"),
    bench={"GPQA": (88.0, "oai-54mini", True)})
add(id="gpt-5.4-nano", provider="openai", prices=(0.20, 1.25, 0.02), ctx=400000, out=128000, caps=C_OAI_R,
    limits_src="https://developers.openai.com/api/docs/models/gpt-5.4-nano",
    latency=(3640, 191, "aa-benchlm"),
    bench={"GPQA": (82.8, "oai-54mini", True)})

# ---------------- Anthropic ----------------
add(id="claude-opus-4-5", provider="anthropic", api_name="claude-opus-4-5-20251101", prices=(5.0, 25.0, 0.50), ctx=200000, out=64000, caps=C_CLAUDE,
    limits_src="https://platform.claude.com/docs/en/models/opus-4-5/overview",
    bench={"GPQA": (87.0, "ant-o45", False), "SWEV": (80.9, "ant-o45", True), "TAU2_RETAIL": (88.9, "ant-o45", False)})
add(id="claude-opus-4-1", provider="anthropic", api_name="claude-opus-4-1-20250805", prices=(15.0, 75.0, 1.50), ctx=200000, out=32000, caps=C_CLAUDE,
    limits_src="https://platform.claude.com/docs/en/about-claude/models/overview",
    bench={"GPQA": (80.9, "ant-o41", False), "AIME25": (78.0, "ant-o41", False), "SWEV": (74.5, "ant-o41", False),
           "TAU_RETAIL": (82.4, "ant-o41", False)})
add(id="claude-sonnet-4-5", provider="anthropic", api_name="claude-sonnet-4-5-20250929", prices=(3.0, 15.0, 0.30), ctx=200000, out=64000, caps=C_CLAUDE,
    limits_src="https://platform.claude.com/docs/en/models/sonnet-4-5/overview",
    bench={"GPQA": (83.4, "ant-s45", True), "AIME25": (87.0, "ant-s45", True), "SWEV": (77.2, "ant-s45", True),
           "TAU2_RETAIL": (86.2, "ant-s45", False)})
add(id="claude-sonnet-4", provider="anthropic", api_name="claude-sonnet-4-20250514", prices=(3.0, 15.0, 0.30), ctx=200000, out=64000, caps=C_CLAUDE,
    limits_src="https://platform.claude.com/docs/en/about-claude/models/overview",
    bench={"GPQA": (75.4, "ant-s4", True), "AIME25": (70.5, "ant-s4", True), "SWEV": (72.7, "ant-s4", True),
           "TAU_RETAIL": (80.5, "ant-s4", True)})
add(id="claude-haiku-4-5", provider="anthropic", api_name="claude-haiku-4-5-20251001", prices=(1.0, 5.0, 0.10), ctx=200000, out=64000, caps=C_CLAUDE,
    limits_src="https://platform.claude.com/docs/en/about-claude/models/overview",
    bench={"GPQA": (73.0, "ant-h45", False), "SWEV": (73.3, "ant-h45", True)})
add(id="claude-3-5-haiku", provider="anthropic", api_name="claude-3-5-haiku-20241022", prices=(0.80, 4.0, 0.08), ctx=200000, out=8192, caps=["tools", "streaming"],
    limits_src="https://platform.claude.com/docs/en/about-claude/models/overview",
    bench={"GPQA": (41.6, "ant-h35", True), "MATH": (69.2, "ant-h35", True), "SWEV": (40.6, "ant-h35", True),
           "HumanEval": (88.1, "ant-h35", True), "TAU_RETAIL": (51.0, "ant-h35", True)})

# ---------------- AWS Bedrock ----------------
def br_claude(id_, base, api, prices, ctx, out):
    src = next(m for m in M if m["id"] == base)
    add(id=id_, provider="bedrock", api_name=api, prices=prices, ctx=ctx, out=out, caps=C_CLAUDE,
        tags=["region:us"], limits_src=BR_IDS, price_src=BR_PRICING + " ; " + ANT_PRICING + " (regional endpoints +10%)",
        bench=dict(src["bench"]), same_as=base)
br_claude("bedrock/claude-opus-4-5", "claude-opus-4-5", "us.anthropic.claude-opus-4-5-20251101-v1:0", (5.50, 27.50, 0.55), 200000, 64000)
br_claude("bedrock/claude-sonnet-4-5", "claude-sonnet-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", (3.30, 16.50, 0.33), 200000, 64000)
br_claude("bedrock/claude-haiku-4-5", "claude-haiku-4-5", "us.anthropic.claude-haiku-4-5-20251001-v1:0", (1.10, 5.50, 0.11), 200000, 64000)
add(id="bedrock/nova-micro", provider="bedrock", api_name="us.amazon.nova-micro-v1:0", prices=(0.035, 0.14, 0.00875), ctx=128000, out=10000,
    caps=["tools", "streaming"], tags=["region:us"], limits_src=BR_IDS, price_src=BR_PRICING,
    bench={"GPQA_MAIN": (40.0, "nova-tr", False), "MATH": (69.3, "nova-tr", False), "HumanEval": (81.1, "nova-tr", False),
           "IFEval": (87.2, "nova-tr", False), "DROP": (79.3, "nova-tr", False)})
add(id="bedrock/nova-lite", provider="bedrock", api_name="us.amazon.nova-lite-v1:0", prices=(0.06, 0.24, 0.015), ctx=300000, out=10000,
    caps=["tools", "vision", "streaming"], tags=["region:us"], limits_src=BR_IDS, price_src=BR_PRICING,
    bench={"GPQA_MAIN": (42.0, "nova-tr", False), "MATH": (73.3, "nova-tr", False), "HumanEval": (85.4, "nova-tr", False),
           "IFEval": (89.7, "nova-tr", False), "DROP": (80.2, "nova-tr", False)})
add(id="bedrock/nova-pro", provider="bedrock", api_name="us.amazon.nova-pro-v1:0", prices=(0.80, 3.20, 0.20), ctx=300000, out=10000,
    caps=["tools", "vision", "streaming"], tags=["region:us"], limits_src=BR_IDS, price_src=BR_PRICING,
    bench={"GPQA_MAIN": (46.9, "nova-tr", False), "MATH": (76.6, "nova-tr", False), "HumanEval": (89.0, "nova-tr", False),
           "IFEval": (92.1, "nova-tr", False), "DROP": (85.4, "nova-tr", False)})
add(id="bedrock/llama3-3-70b", provider="bedrock", api_name="us.meta.llama3-3-70b-instruct-v1:0", prices=(0.72, 0.72, None), ctx=128000, out=8192,
    caps=["tools", "streaming"], tags=["region:us", "open-weights"], limits_src=BR_IDS, price_src=BR_PRICING,
    bench={"GPQA": (50.5, "llama33", True), "MATH": (77.0, "llama33", True), "HumanEval": (88.4, "llama33", True),
           "IFEval": (92.1, "llama33", True), "LCB": (33.3, "llama4", True)})
add(id="bedrock/llama4-maverick", provider="bedrock", api_name="us.meta.llama4-maverick-17b-instruct-v1:0", prices=(0.24, 0.97, None), ctx=1000000, out=8192,
    caps=["tools", "vision", "streaming"], tags=["region:us", "open-weights"], limits_src=BR_IDS + " ; https://github.com/braintrustdata/braintrust-proxy/issues/557", price_src=BR_PRICING,
    bench={"GPQA": (69.8, "llama4", True), "LCB": (43.4, "llama4", True)})
add(id="bedrock/llama4-scout", provider="bedrock", api_name="us.meta.llama4-scout-17b-instruct-v1:0", prices=(0.17, 0.66, None), ctx=3500000, out=8192,
    caps=["tools", "vision", "streaming"], tags=["region:us", "open-weights"], limits_src=BR_IDS, price_src=BR_PRICING,
    bench={"GPQA": (57.2, "llama4", True), "LCB": (32.8, "llama4", True)})

# ---------------- Google ----------------
GPRICE = "https://ai.google.dev/gemini-api/docs/pricing"
add(id="gemini-2.5-pro", provider="google", prices=(1.25, 10.0, None), ctx=1048576, out=65536, caps=C_OAI_R,
    limits_src="https://ai.google.dev/gemini-api/docs/models#gemini-2.5-pro", price_src=GPRICE,
    bench={"GPQA": (86.4, "gem25", True), "AIME25": (88.0, "gem25", True), "SWEV": (59.6, "gem25", False)})
add(id="gemini-2.5-flash", provider="google", prices=(0.30, 2.50, None), ctx=1048576, out=65536, caps=C_OAI_R,
    limits_src="https://ai.google.dev/gemini-api/docs/models#gemini-2.5-flash", price_src=GPRICE,
    latency=(540, 221, "aa-benchlm"),
    bench={"GPQA": (82.8, "gem25", False), "AIME25": (72.0, "gem25", False)})
add(id="gemini-2.5-flash-lite", provider="google", prices=(0.10, 0.40, None), ctx=1048576, out=65536, caps=C_OAI_R,
    limits_src="https://ai.google.dev/gemini-api/docs/models#gemini-2.5-flash-lite", price_src=GPRICE,
    bench={"GPQA": (64.6, "gem25", True), "AIME25": (49.8, "gem25", True), "LCB": (33.7, "gem25", False)})

# ---------------- DeepSeek ----------------
add(id="deepseek-reasoner", provider="deepseek", prices=(0.28, 0.42, 0.028), ctx=128000, out=64000,
    caps=["tools", "json_mode", "streaming", "reasoning"], tags=["open-weights"],
    limits_src="https://api-docs.deepseek.com/quick_start/pricing ; https://raw.githubusercontent.com/RooCodeInc/Roo-Code/main/packages/types/src/providers/deepseek.ts (V3.2 prices, 2025-12-09)",
    price_src="https://api-docs.deepseek.com/quick_start/pricing",
    bench={"GPQA": (79.9, "ds32", True), "AIME25": (89.3, "ds32", True), "SWEV": (67.8, "ds32", True)})

# ---------------- Mistral ----------------
add(id="mistral-small-latest", provider="mistral", api_name="mistral-small-2506", prices=(0.10, 0.30, None), ctx=128000, out=128000,
    caps=["tools", "vision", "json_mode", "streaming"], tags=["open-weights"],
    limits_src="https://docs.mistral.ai/getting-started/models/", price_src="https://mistral.ai/pricing#api-pricing",
    bench={"GPQA": (46.13, "mis-s32", False), "MATH": (69.42, "mis-s32", False), "HumanEval+": (92.90, "mis-s32", False)})

PRICE_CHECK = {'gpt-5': 'crazyrouter.com/en/blog/gpt-5-pricing and michaelbommarito.com GPT-5 notes (quoting OpenAI)', 'gpt-5-mini': 'developers.openai.com/api/docs/models/gpt-5-mini', 'gpt-5-nano': 'developers.openai.com/api/docs/models/gpt-5-nano', 'gpt-4.1': 'LiteLLM price map (gist ei-grad, 2025-04-14)', 'gpt-4.1-mini': 'LiteLLM price map (gist ei-grad, 2025-04-14)', 'gpt-4.1-nano': 'developers.openai.com/api/docs/models/gpt-4.1-nano', 'gpt-4o': 'chatgptpricing-akr.pages.dev/api-pricing (citing developers.openai.com)', 'gpt-4o-mini': 'chatgptpricing-akr.pages.dev/api-pricing (citing developers.openai.com)', 'o4-mini': 'helicone.ai/model/o4-mini; Roo Code provider table', 'gpt-5.4-nano': 'developers.openai.com/api/docs/models/gpt-5.4-nano', 'gpt-5.4-mini': 'developers.openai.com (input price); vercel.com/ai-gateway (output); adk-model crate (cached)', 'gpt-5.4': 'wavespeed.ai, getmaxim.ai model library (input/output/limits); adk-model crate (cached)', 'claude-opus-4-5': 'platform.claude.com pricing page', 'claude-opus-4-1': 'platform.claude.com pricing page', 'claude-sonnet-4-5': 'platform.claude.com pricing page', 'claude-sonnet-4': 'platform.claude.com pricing page', 'claude-haiku-4-5': 'platform.claude.com pricing page', 'claude-3-5-haiku': 'platform.claude.com pricing page', 'bedrock/claude-haiku-4-5': 'AWS agent-toolkit-for-aws bedrock_pricing.py (verified by AWS 2026-10-05)', 'bedrock/claude-sonnet-4-5': 'Anthropic base price + the uniform ~10% Geo premium stated in AWS agent-toolkit-for-aws bedrock_pricing.py', 'bedrock/claude-opus-4-5': 'Anthropic base price + the uniform ~10% Geo premium stated in AWS agent-toolkit-for-aws bedrock_pricing.py', 'bedrock/nova-micro': 'AWS agent-toolkit-for-aws bedrock_pricing.py (verified by AWS 2026-10-05)', 'bedrock/nova-lite': 'AWS agent-toolkit-for-aws bedrock_pricing.py (verified by AWS 2026-10-05)', 'bedrock/nova-pro': 'AWS agent-toolkit-for-aws bedrock_pricing.py (verified by AWS 2026-10-05)', 'gemini-2.5-pro': 'gemini-cost crate tests (<=200K tier)', 'gemini-2.5-flash-lite': 'awesomeagents.ai/models/gemini-2-5-flash-lite', 'deepseek-reasoner': 'Roo Code DeepSeek provider table (2025-12-09, citing api-docs.deepseek.com)'}

