"""Realistic model replies and the value docs/json-extraction.md says each one meant.

Data, not tests: tests/synthesis/test_extraction_corpus.py asserts every case. Each case names the
policy rule it exercises (its category); ``expected`` is the value (an object or array) or ``None``
for a failure, and then ``failure`` is the reason extraction must give. The payloads are the phase
example outputs in tests/fixtures/phase_outputs, so sizes and shapes are those of real answers.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from tests.support import catalog_for, fixture


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    reply: str
    expected: Any
    failure: str | None = None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def cut(text: str, fraction: float) -> str:
    """The reply as max_tokens leaves it: the first ``fraction`` of its characters."""
    return text[: int(len(text) * fraction)]


def fence(body: str, opener: str = "```json", closer: str = "```") -> str:
    return f"{opener}\n{body}\n{closer}"


def trailing_commas(pretty_json: str) -> str:
    """The pretty JSON with a comma after the last member of every non-empty object and array."""
    lines = pretty_json.split("\n")
    for i in range(1, len(lines)):
        closer = lines[i].strip()
        previous = lines[i - 1].rstrip()
        if closer[:1] in ("}", "]") and previous[-1:] not in ("{", "["):
            lines[i - 1] = previous + ","
    return "\n".join(lines)


SCHEMAS = {
    name: catalog_for().get(name).output.prompt_text
    for name in ("kill-test", "opportunity", "synthesis", "launch-execution")
}

KILL = fixture("kill-test")
OPP = fixture("opportunity")
SYN = fixture("synthesis")
LAUNCH = fixture("launch-execution")
REV = fixture("revenue-expansion")
TECH = fixture("tech-arch")
MARKET = fixture("market-research")
COMP = fixture("competitive-intel")
ANALYTICS = fixture("analytics")

KILL_GO = {
    **KILL,
    "verdict": "GO",
    "fatalFlaws": ["None that a narrow wedge cannot avoid."],
    "pivotSuggestions": [],
}
KILL_DRAFT = {
    "verdict": "GO",
    "fatalFlaws": [],
    "pivotSuggestions": [],
    "riskRegister": [{"risk": "Carrier data quality", "likelihood": "medium", "impact": "high"}],
}
SMALL = {"verdict": "KILL", "fatalFlaws": ["No distribution channel the founder controls."]}
REFUSAL = {
    "error": "insufficient_information",
    "message": "The idea text is empty, so no kill test can be run.",
    "needed": ["idea description", "target customer"],
}
WILD = [
    {"answer": "A", "wildIdea": "Sell dispute outcomes as carrier scorecards", "reasoning": "Only A saw it."},
    {"answer": "C", "wildIdea": "Let carriers pre-clear accessorials", "reasoning": "Flips the workflow."},
]
RAW_TEXT = {
    "executiveSummary": "Freight audit for small brokers.\nLine two of the summary.\tTabbed note.",
    "oneLinePitch": "Stop paying\tcarriers twice.",
}
NULLS = {"verdict": "PIVOT", "score": None, "upside": None, "downside": None, "fatalFlaws": ["x"]}

THINK = (
    "<think>\nThe user wants a kill test. The market is crowded, so maybe GO? Let me check again.\n"
    "</think>\n\n"
)
R1_THOUGHT = (
    "Okay, the user wants a kill test for the freight audit idea. First draft: "
    f"{compact(KILL_DRAFT)}. Hmm, that ignores the TMS vendors. Let me reconsider.\n</think>\n\n"
)

CASES: list[Case] = [
    # ---- plain: the reply is exactly one JSON object ---------------------------------------------
    Case("plain-compact-kill", "plain", compact(KILL), KILL),
    Case("plain-pretty-kill", "plain", pretty(KILL), KILL),
    Case("plain-pretty-synthesis", "plain", pretty(SYN), SYN),
    Case("plain-whitespace-opportunity", "plain", "\n\n  " + pretty(OPP) + "  \n", OPP),
    Case("plain-largest-tech-arch", "plain", pretty(TECH), TECH),
    Case("plain-empty-object", "plain", "{}", {}),
    # ---- fence_json: ```json fences with prose around ---------------------------------------------
    Case("fence-json-kill", "fence_json", "Here is the kill test:\n\n" + fence(pretty(KILL)), KILL),
    Case(
        "fence-json-prose-both-sides",
        "fence_json",
        "Sure! Below is the analysis.\n\n" + fence(pretty(OPP)) + "\n\nLet me know if you want changes.",
        OPP,
    ),
    Case("fence-json-compact", "fence_json", fence(compact(SYN)), SYN),
    Case("fence-json-launch", "fence_json", "### Result\n" + fence(pretty(LAUNCH)) + "\n", LAUNCH),
    Case(
        "fence-json-with-braces-in-prose",
        "fence_json",
        "I filled in every {field} of the template.\n" + fence(pretty(REV)) + "\nDone {:}",
        REV,
    ),
    Case("fence-json-no-newlines", "fence_json", "```json" + compact(KILL) + "```", KILL),
    # ---- fence_variants: any tag or none, ~~~, indented, one line, longer marks --------------------
    Case("fence-bare", "fence_variants", "Result:\n" + fence(pretty(KILL), "```"), KILL),
    Case("fence-tilde-json", "fence_variants", fence(pretty(KILL), "~~~json", "~~~"), KILL),
    Case("fence-tilde-bare", "fence_variants", "Answer\n" + fence(pretty(SYN), "~~~", "~~~"), SYN),
    Case("fence-uppercase-tag", "fence_variants", fence(pretty(OPP), "```JSON"), OPP),
    Case("fence-jsonc", "fence_variants", fence(pretty(REV), "```jsonc"), REV),
    Case("fence-json5", "fence_variants", fence(pretty(LAUNCH), "```json5"), LAUNCH),
    Case("fence-javascript", "fence_variants", fence(pretty(KILL), "```javascript"), KILL),
    Case(
        "fence-indented",
        "fence_variants",
        "Here it is:\n\n    ```json\n    " + compact(KILL) + "\n    ```\n",
        KILL,
    ),
    Case(
        "fence-one-line",
        "fence_variants",
        'The verdict: ```json {"verdict": "KILL"} ``` as agreed.',
        {"verdict": "KILL"},
    ),
    Case(
        "fence-four-backticks-with-inner-fence",
        "fence_variants",
        fence(compact({"snippet": "```python\nprint('hi')\n```", "verdict": "GO"}), "````json", "````"),
        {"snippet": "```python\nprint('hi')\n```", "verdict": "GO"},
    ),
    Case("fence-tag-with-space", "fence_variants", fence(pretty(SMALL), "``` json"), SMALL),
    Case(
        "fence-code-sample-in-string",
        "fence_variants",
        fence(compact({"verdict": "GO", "code": "Use ```json fences``` when asked"}))
        + '\nA later example, not fenced: {"verdict": "KILL", "code": "Use nothing at all, ever, never"}',
        {"verdict": "GO", "code": "Use ```json fences``` when asked"},
    ),
    # ---- fence_unclosed: a fence left open runs to the end (not truncation) ------------------------
    Case("fence-unclosed", "fence_unclosed", "```json\n" + pretty(KILL), KILL),
    Case("fence-unclosed-tilde", "fence_unclosed", "~~~\n" + pretty(SYN) + "\n", SYN),
    Case(
        "fence-unclosed-with-note",
        "fence_unclosed",
        "```json\n" + pretty(OPP) + "\n\nNote: recommendedIndex points at the broker wedge.",
        OPP,
    ),
    Case(
        "fence-unclosed-after-unfenced-draft",
        "fence_unclosed",
        "Draft: " + compact(KILL_GO) + "\n\nFinal:\n```json\n" + pretty(KILL),
        KILL,
    ),
    # ---- fence_priority: fenced candidates only, when there are any -------------------------------
    Case(
        "fence-priority-over-later-prose-object",
        "fence_priority",
        fence(pretty(KILL)) + "\n\nIn short: " + compact(KILL_GO),
        KILL,
    ),
    Case(
        "fence-priority-prose-example-first",
        "fence_priority",
        'Format: {"verdict": "GO|PIVOT|KILL", "fatalFlaws": ["..."]}\n\n' + fence(pretty(KILL)),
        KILL,
    ),
    Case(
        "fence-priority-two-fences-last-wins",
        "fence_priority",
        "First pass:\n" + fence(pretty(KILL_GO)) + "\n\nCorrected:\n" + fence(pretty(KILL)),
        KILL,
    ),
    Case(
        "fence-priority-fenced-array-over-prose-object",
        "fence_priority",
        fence(pretty(WILD)) + '\nEach item is like {"answer": "A", "wildIdea": "...", "reasoning": "..."}',
        WILD,
    ),
    Case(
        "fence-priority-inline-backticks-are-no-fence",
        "fence_priority",
        'Use `{"verdict": "GO"}` as the shape. Here is mine: ' + compact(KILL),
        KILL,
    ),
    # ---- prose_around: JSON in plain prose ------------------------------------------------------------
    Case(
        "prose-before-after",
        "prose_around",
        "Here is the kill test you asked for.\n\n" + pretty(KILL) + "\n\nLet me know if anything is unclear.",
        KILL,
    ),
    Case("prose-sure", "prose_around", "Sure! " + compact(SYN), SYN),
    Case(
        "prose-markdown-heading",
        "prose_around",
        "## Kill test\n\n**Verdict: PIVOT**\n\n" + pretty(KILL) + "\n",
        KILL,
    ),
    Case("prose-answer-period", "prose_around", "Answer: " + compact(LAUNCH) + ".", LAUNCH),
    Case(
        "prose-odd-quote-before",
        "prose_around",
        'The founder said "it works. ' + compact(REV),
        REV,
    ),
    # ---- r1_missing_open: a closing tag alone ends the reasoning -----------------------------------
    Case("r1-lone-close-with-draft", "r1_missing_open", R1_THOUGHT + pretty(KILL), KILL),
    Case(
        "r1-lone-close-no-draft",
        "r1_missing_open",
        "Okay, let me think about the freight idea.\n</think>\n\n" + compact(KILL),
        KILL,
    ),
    Case("r1-lone-close-then-fence", "r1_missing_open", R1_THOUGHT + fence(pretty(KILL)), KILL),
    Case(
        "r1-lone-close-uppercase",
        "r1_missing_open",
        "Thinking about {x}.\n</THINK>\n" + compact(SMALL),
        SMALL,
    ),
    Case(
        "r1-lone-close-draft-bigger",
        "r1_missing_open",
        "Draft: " + compact(KILL) + "\n</think>\n" + compact(SMALL),
        SMALL,
    ),
    # ---- think_block: <think>…</think> is never the answer ---------------------------------------------
    Case("think-block", "think_block", THINK + pretty(KILL), KILL),
    Case(
        "think-block-with-valid-draft",
        "think_block",
        "<think>\nDraft: " + compact(KILL_GO) + "\nNo, the TMS overlap is real.\n</think>\n" + compact(KILL),
        KILL,
    ),
    Case("think-block-uppercase", "think_block", "<THINK>weigh {it}</THINK>\n" + compact(SYN), SYN),
    Case(
        "think-two-blocks",
        "think_block",
        "<think>first</think>\nOne moment.\n<think>" + compact(KILL_GO) + "</think>\n" + compact(KILL),
        KILL,
    ),
    Case("think-block-then-fence", "think_block", THINK + "Here:\n" + fence(pretty(OPP)), OPP),
    Case(
        "think-block-draft-longer-than-answer",
        "think_block",
        "<think>" + compact(TECH) + "</think>" + compact(SMALL),
        SMALL,
    ),
    # ---- thinking_tag: <thinking> is the same ----------------------------------------------------------
    Case(
        "thinking-block",
        "thinking_tag",
        "<thinking>\nLet me weigh the evidence.\n</thinking>\n\n" + pretty(KILL),
        KILL,
    ),
    Case("thinking-block-capitalised", "thinking_tag", "<Thinking>hmm</Thinking>" + compact(LAUNCH), LAUNCH),
    Case(
        "thinking-block-with-draft",
        "thinking_tag",
        "<thinking>" + compact(KILL_DRAFT) + "</thinking>\n" + fence(compact(KILL)),
        KILL,
    ),
    # ---- reasoning_unfinished: an opener that never closes ---------------------------------------------
    Case(
        "unfinished-with-draft",
        "reasoning_unfinished",
        "<think>\nLet me draft it: " + compact(KILL_GO) + "\nWait, the TMS vendors",
        None,
        "unfinished_reasoning",
    ),
    Case(
        "unfinished-thinking",
        "reasoning_unfinished",
        "<thinking>The market is large {maybe} and",
        None,
        "unfinished_reasoning",
    ),
    Case(
        "unfinished-after-prose",
        "reasoning_unfinished",
        "Sure, let me think this through.\n<think>" + compact(KILL),
        None,
        "unfinished_reasoning",
    ),
    Case(
        "unfinished-second-block",
        "reasoning_unfinished",
        "<think>first pass</think>\nOne more check.\n<think>" + compact(KILL_GO),
        None,
        "unfinished_reasoning",
    ),
    Case(
        "unfinished-after-answer",
        "reasoning_unfinished",
        compact(KILL) + "\n<think>Should I double-check the verdict? " + compact(KILL_GO),
        KILL,
    ),
    Case("unfinished-empty", "reasoning_unfinished", "<think>", None, "unfinished_reasoning"),
    # ---- reasoning_only: reasoning and nothing after it ------------------------------------------------
    Case(
        "reasoning-only-block",
        "reasoning_only",
        "<think>The idea is a freight audit tool; I think PIVOT.</think>",
        None,
        "reasoning_only",
    ),
    Case(
        "reasoning-only-lone-close",
        "reasoning_only",
        "Okay, so the verdict should be PIVOT because of TMS overlap.\n</think>\n",
        None,
        "reasoning_only",
    ),
    Case(
        "reasoning-only-valid-draft-inside",
        "reasoning_only",
        "<thinking>" + compact(KILL) + "</thinking>\n\n",
        None,
        "reasoning_only",
    ),
    Case(
        "reasoning-only-two-blocks",
        "reasoning_only",
        "<think>a</think>\n<think>b</think>",
        None,
        "reasoning_only",
    ),
    # ---- draft_then_correction: the last full-size candidate ---------------------------------------------
    Case(
        "draft-then-correction",
        "draft_then_correction",
        compact(KILL_GO) + "\n\nWait, I need to correct the verdict:\n\n" + compact(KILL),
        KILL,
    ),
    Case(
        "partial-then-full",
        "draft_then_correction",
        'Starting with {"verdict": "PIVOT"} and filling in the rest:\n' + pretty(KILL),
        KILL,
    ),
    Case(
        "three-drafts",
        "draft_then_correction",
        "v1: " + compact(KILL_DRAFT) + "\nv2: " + compact(KILL_GO) + "\nv3 (final): " + compact(KILL),
        KILL,
    ),
    Case(
        "draft-pretty-correction-compact",
        "draft_then_correction",
        pretty(KILL) + "\n\nActually the verdict should be GO. Corrected:\n" + compact(KILL_GO),
        KILL_GO,
    ),
    Case(
        "correction-smaller-but-over-half",
        "draft_then_correction",
        compact(KILL) + "\nRevised, dropping the risk register:\n" + compact({**KILL, "riskRegister": []}),
        {**KILL, "riskRegister": []},
    ),
    Case(
        "correction-under-half-loses",
        "draft_then_correction",
        compact(KILL) + "\nActually, just: " + compact(SMALL),
        KILL,
    ),
    Case(
        "first-attempt-revised-opportunity",
        "draft_then_correction",
        "First attempt:\n" + compact({**OPP, "recommendedIndex": 1}) + "\n\nRevised:\n" + pretty(OPP),
        OPP,
    ),
    Case(
        "draft-and-correction-in-one-fence",
        "draft_then_correction",
        fence(compact(KILL_GO) + "\n// corrected below\n" + compact(KILL)),
        KILL,
    ),
    # ---- schema_echo: the schema or a template comes first ----------------------------------------------
    *[
        Case(
            f"schema-echo-{name}",
            "schema_echo",
            f"The required schema is:\n{SCHEMAS[name]}\n\nMy answer:\n{pretty(payload)}",
            payload,
        )
        for name, payload in (
            ("kill-test", KILL),
            ("opportunity", OPP),
            ("synthesis", SYN),
            ("launch-execution", LAUNCH),
        )
    ],
    Case(
        "template-echo",
        "schema_echo",
        'Template: {"verdict": "GO | PIVOT | KILL", "fatalFlaws": ["string"], "pivotSuggestions": ["s"]}\n'
        + compact(KILL),
        KILL,
    ),
    Case(
        "schema-echo-both-fenced",
        "schema_echo",
        "Schema:\n" + fence(SCHEMAS["kill-test"]) + "\nAnswer:\n" + fence(pretty(KILL)),
        KILL,
    ),
    # ---- quoted_input: the model quotes its inputs before answering -------------------------------------
    Case(
        "quoted-prior-phase",
        "quoted_input",
        "Given the opportunity analysis " + compact(OPP) + ", here is the kill test:\n" + compact(KILL),
        KILL,
    ),
    Case(
        "quoted-market-then-competitive",
        "quoted_input",
        "You gave me:\n" + compact(MARKET) + "\n\nCompetitive intel:\n" + pretty(COMP),
        COMP,
    ),
    Case(
        "quoted-idea-object",
        "quoted_input",
        'Input: {"idea": "Freight invoice audit for small brokers"}\nOutput: ' + compact(KILL),
        KILL,
    ),
    Case(
        "quoted-request-body",
        "quoted_input",
        'You asked (request {"phase": "kill-test", "options": {"strategy": "synthesize"}}):\n' + pretty(KILL),
        KILL,
    ),
    Case(
        "quoted-answers-then-synthesis",
        "quoted_input",
        "Answer A said "
        + compact(KILL_GO)
        + " and answer B said "
        + compact(KILL_DRAFT)
        + ". Merged:\n"
        + compact(KILL),
        KILL,
    ),
    # ---- trailing_fragment: short fragments after the answer lose ---------------------------------------
    Case(
        "trailing-verdict-fragment",
        "trailing_fragment",
        pretty(KILL) + '\n\nI chose {"verdict": "PIVOT"} because the wedge is narrow.',
        KILL,
    ),
    Case(
        "trailing-example-entry",
        "trailing_fragment",
        compact(KILL)
        + '\nAn entry looks like {"risk": "Carrier churn", "likelihood": "high", "impact": "medium"}.',
        KILL,
    ),
    Case(
        "trailing-array-of-options",
        "trailing_fragment",
        compact(KILL) + '\n(verdict is one of ["GO", "PIVOT", "KILL"])',
        KILL,
    ),
    Case(
        "trailing-fenced-example",
        "trailing_fragment",
        fence(pretty(KILL)) + '\nFor instance:\n```json\n{"verdict": "KILL"}\n```',
        KILL,
    ),
    Case(
        "trailing-placeholder-braces",
        "trailing_fragment",
        compact(SYN) + "\n\n(Fill {executiveSummary} in your own words.)",
        SYN,
    ),
    Case(
        "trailing-correction-too-small",
        "trailing_fragment",
        compact(OPP) + '\n\nIf you prefer: {"recommendedIndex": 1}',
        OPP,
    ),
    # ---- html_escaped: JSON syntax escaped on the way -------------------------------------------------
    Case("html-quot", "html_escaped", html.escape(compact(KILL)), KILL),
    Case("html-quot-pretty", "html_escaped", html.escape(pretty(REV)), REV),
    Case("html-numeric-34", "html_escaped", compact(SMALL).replace('"', "&#34;"), SMALL),
    Case("html-hex-22", "html_escaped", compact(SMALL).replace('"', "&#x22;"), SMALL),
    Case("html-hex-22-uppercase", "html_escaped", compact(SMALL).replace('"', "&#X22;"), SMALL),
    Case("html-array", "html_escaped", html.escape(compact(WILD)), WILD),
    Case(
        "html-space-after-brace", "html_escaped", "{ &quot;verdict&quot;: &quot;GO&quot; }", {"verdict": "GO"}
    ),
    Case(
        "html-in-fence-with-amp",
        "html_escaped",
        "```json\n" + html.escape(compact({"verdict": "GO", "note": "R&D <first>"})) + "\n```",
        {"verdict": "GO", "note": "R&D <first>"},
    ),
    Case(
        "html-escaped-think",
        "html_escaped",
        html.escape("<think>" + compact(KILL_GO) + "</think>" + compact(KILL)),
        KILL,
    ),
    Case(
        "html-amp-in-valid-json-stays",
        "html_escaped",
        compact({"verdict": "GO", "note": "R&amp;D &quot;first&quot;"}),
        {"verdict": "GO", "note": "R&amp;D &quot;first&quot;"},
    ),
    Case(
        "html-quot-in-prose-only",
        "html_escaped",
        'She said &quot;go&quot;. {"verdict": "GO", "note": "AT&amp;T"}',
        {"verdict": "GO", "note": "AT&amp;T"},
    ),
    # ---- comments: // and /* */ outside strings ---------------------------------------------------------
    Case(
        "comments-line",
        "comments",
        '{\n  "verdict": "PIVOT", // the wedge is narrow\n  "fatalFlaws": ["TMS overlap"] // only one\n}',
        {"verdict": "PIVOT", "fatalFlaws": ["TMS overlap"]},
    ),
    Case(
        "comments-block",
        "comments",
        '/* kill test */ {"verdict": /* final */ "KILL", "fatalFlaws": [/* none */]}',
        {"verdict": "KILL", "fatalFlaws": []},
    ),
    Case(
        "comments-with-braces-and-quotes",
        "comments",
        '{"verdict": "GO", // don\'t emit "}" or {"x": 1} here\n "pivotSuggestions": []}',
        {"verdict": "GO", "pivotSuggestions": []},
    ),
    Case(
        "comments-url-in-string-stays",
        "comments",
        '{"source": "https://example.com/a//b", /* c */ "note": "/* not a comment */"}',
        {"source": "https://example.com/a//b", "note": "/* not a comment */"},
    ),
    Case(
        "comments-in-fenced-kill",
        "comments",
        fence(
            "// generated\n"
            + pretty(KILL).replace('"verdict": "PIVOT",', '"verdict": "PIVOT", // see flaws'),
            "```jsonc",
        ),
        KILL,
    ),
    Case(
        "comments-last-member",
        "comments",
        '{"verdict": "PIVOT" /* done */}\n',
        {"verdict": "PIVOT"},
    ),
    # ---- trailing_commas --------------------------------------------------------------------------------
    Case(
        "trailing-comma-object",
        "trailing_commas",
        '{"verdict": "GO", "fatalFlaws": [],}',
        {"verdict": "GO", "fatalFlaws": []},
    ),
    Case("trailing-comma-array", "trailing_commas", '{"risks": ["a", "b",]}', {"risks": ["a", "b"]}),
    Case("trailing-comma-everywhere-kill", "trailing_commas", trailing_commas(pretty(KILL)), KILL),
    Case("trailing-comma-fenced-launch", "trailing_commas", fence(trailing_commas(pretty(LAUNCH))), LAUNCH),
    Case(
        "trailing-comma-and-comment",
        "trailing_commas",
        '{"verdict": "KILL", // final\n "fatalFlaws": ["x", /* more? */ ],\n}',
        {"verdict": "KILL", "fatalFlaws": ["x"]},
    ),
    # ---- python_literals: single quotes, True/False/None ------------------------------------------------
    Case("python-repr-kill", "python_literals", repr(KILL), KILL),
    Case("python-repr-synthesis", "python_literals", "Result:\n" + repr(SYN), SYN),
    Case(
        "python-literals-small",
        "python_literals",
        "{'verdict': 'GO', 'isAgentic': True, 'hasFreeDist': False, 'timeToMVP': None}",
        {"verdict": "GO", "isAgentic": True, "hasFreeDist": False, "timeToMVP": None},
    ),
    Case(
        "python-escaped-quote",
        "python_literals",
        "{'note': 'it\\'s \"fine\"', 'ok': True}",
        {"note": 'it\'s "fine"', "ok": True},
    ),
    Case("python-fence", "python_literals", fence(repr(SMALL), "```python"), SMALL),
    Case(
        "python-mixed-quotes",
        "python_literals",
        "{\"verdict\": 'PIVOT', 'flags': [None, True, \"x\"]}",
        {"verdict": "PIVOT", "flags": [None, True, "x"]},
    ),
    # ---- nan_infinity: written as JSON.stringify would, null ---------------------------------------------
    Case(
        "nan",
        "nan_infinity",
        '{"confidence": NaN, "verdict": "PIVOT"}',
        {"confidence": None, "verdict": "PIVOT"},
    ),
    Case(
        "infinities",
        "nan_infinity",
        '{"upside": Infinity, "downside": -Infinity, "runway": [1, NaN, -Infinity]}',
        {"upside": None, "downside": None, "runway": [1, None, None]},
    ),
    Case(
        "nan-word-in-string-stays",
        "nan_infinity",
        '{"note": "NaN and Infinity are words here", "score": NaN}',
        {"note": "NaN and Infinity are words here", "score": None},
    ),
    Case(
        "nan-with-python-literals",
        "nan_infinity",
        "{'score': NaN, 'ok': True, 'next': None}",
        {"score": None, "ok": True, "next": None},
    ),
    # ---- double_encoded: a JSON string literal holding the JSON -----------------------------------------
    Case("double-encoded", "double_encoded", json.dumps(compact(KILL)), KILL),
    Case("double-encoded-pretty-inside", "double_encoded", json.dumps(pretty(SYN)), SYN),
    Case("double-encoded-fenced", "double_encoded", fence(json.dumps(compact(SMALL))), SMALL),
    Case(
        "double-encoded-with-prose", "double_encoded", "Output: " + json.dumps(compact(LAUNCH)) + "\n", LAUNCH
    ),
    Case("double-encoded-array", "double_encoded", json.dumps(compact(WILD)), WILD),
    Case(
        "string-value-not-decoded",
        "double_encoded",
        compact({"result": compact(SMALL), "status": "ok"}),
        {"result": compact(SMALL), "status": "ok"},
    ),
    Case("quoted-placeholder-is-not-json", "double_encoded", 'Fill in "{verdict}" please.', None, "no_json"),
    # ---- arrays: returned as written; objects beat arrays -----------------------------------------------
    Case("array-only", "arrays", compact(WILD), WILD),
    Case("array-fenced", "arrays", "```json\n" + pretty(WILD) + "\n```", WILD),
    Case("array-one-object-not-unwrapped", "arrays", "[" + compact(KILL) + "]", [KILL]),
    Case("array-then-object", "arrays", compact(WILD) + "\nSummary: " + compact(SMALL), SMALL),
    Case("object-small-beats-big-array", "arrays", compact(SMALL) + "\n" + compact([KILL, KILL_GO]), SMALL),
    Case("array-empty", "arrays", "Nothing distinct: []", []),
    Case("arrays-last-full-size", "arrays", compact([WILD[0]]) + "\nAll of them:\n" + compact(WILD), WILD),
    # ---- truncated: the text ends inside an object or array --------------------------------------------
    *[
        Case(
            f"truncated-{name}-{int(fraction * 100)}",
            "truncated",
            cut(pretty(payload), fraction),
            None,
            "truncated",
        )
        for name, payload in (
            ("kill-test", KILL),
            ("opportunity", OPP),
            ("synthesis", SYN),
            ("tech-arch", TECH),
            ("launch-execution", LAUNCH),
        )
        for fraction in (0.2, 0.5, 0.8)
    ],
    *[
        Case(
            f"truncated-after-draft-{int(fraction * 100)}",
            "truncated",
            "Draft: " + compact(KILL_GO) + "\n\nFinal:\n" + cut(pretty(KILL), fraction),
            None,
            "truncated",
        )
        for fraction in (0.2, 0.5, 0.8)
    ],
    Case("truncated-in-fence", "truncated", "```json\n" + cut(pretty(KILL), 0.65), None, "truncated"),
    Case(
        "truncated-after-schema-echo",
        "truncated",
        "Schema: " + SCHEMAS["kill-test"] + "\n\n" + cut(compact(KILL), 0.5),
        None,
        "truncated",
    ),
    Case(
        "truncated-in-string",
        "truncated",
        '{"verdict": "PIVOT", "fatalFlaws": ["As framed, the sco',
        None,
        "truncated",
    ),
    Case("truncated-after-colon", "truncated", '{"verdict": "PIVOT", "fatalFlaws":', None, "truncated"),
    Case("truncated-after-comma", "truncated", '{"verdict": "PIVOT",\n', None, "truncated"),
    Case("truncated-mid-literal", "truncated", '{"isAgentic": tr', None, "truncated"),
    Case("truncated-mid-number", "truncated", '{"timeToMVPWeeks": 7.', None, "truncated"),
    Case("truncated-double-encoded", "truncated", cut(json.dumps(compact(KILL)), 0.5), None, "truncated"),
    Case("truncated-python-literal", "truncated", cut(repr(KILL), 0.5), None, "truncated"),
    Case("truncated-array", "truncated", cut(compact(WILD), 0.6), None, "truncated"),
    Case(
        "truncated-after-think",
        "truncated",
        THINK + cut(pretty(KILL), 0.8),
        None,
        "truncated",
    ),
    # ---- cutoff_explanation: a complete answer, then the cut ---------------------------------------------
    Case(
        "cutoff-explanation",
        "cutoff_explanation",
        pretty(KILL)
        + "\n\nThis verdict reflects the overlap with TMS vendors, and the main risk is that brok",
        KILL,
    ),
    Case(
        "cutoff-after-fence",
        "cutoff_explanation",
        fence(pretty(KILL)) + "\n\n**Why PIVOT:** the incumbents already store invoi",
        KILL,
    ),
    Case(
        "cutoff-list-explanation",
        "cutoff_explanation",
        compact(SYN) + "\n\nKey points:\n- The executive summary stresses\n- The risk regis",
        SYN,
    ),
    Case(
        "stray-quote-before-bracket-is-no-cut",
        "cutoff_explanation",
        compact(KILL) + '\n\nThe "fatal" [sic] flaw is scope, as the broker interviews sho',
        KILL,
    ),
    Case(
        "cutoff-inside-unclosed-fence",
        "cutoff_explanation",
        "```json\n" + pretty(OPP) + "\n\nI recommended the second opportunity becau",
        OPP,
    ),
    # ---- refusal_prose / clarifying: no candidate --------------------------------------------------------
    Case("refusal", "refusal_prose", "I'm sorry, but I can't help with that request.", None, "no_json"),
    Case(
        "refusal-policy",
        "refusal_prose",
        "As an AI model I can't evaluate business ideas that involve regulated lending.",
        None,
        "no_json",
    ),
    Case(
        "clarifying-question",
        "refusal_prose",
        "Before I run the kill test, could you tell me who the target customer is? Brokers or shippers?",
        None,
        "no_json",
    ),
    Case(
        "clarifying-with-placeholder",
        "refusal_prose",
        "I need more about {target market} and {pricing} to answer.",
        None,
        "no_json",
    ),
    # ---- empty -------------------------------------------------------------------------------------------
    Case("empty", "empty", "", None, "no_json"),
    Case("whitespace", "empty", "  \n\t\n", None, "no_json"),
    Case("bom-only", "empty", "\ufeff", None, "no_json"),
    # ---- empty_fence ---------------------------------------------------------------------------------------
    Case("empty-fence", "empty_fence", "```json\n```", None, "no_json"),
    Case("empty-fence-one-line", "empty_fence", "``` ```", None, "no_json"),
    Case("empty-fence-prose", "empty_fence", "Here you go:\n~~~\n\n~~~\nHope that helps.", None, "no_json"),
    # ---- non_json_braces: braces that are not JSON -----------------------------------------------------
    Case("braces-verdict", "non_json_braces", "{verdict}", None, "no_json"),
    Case("braces-options", "non_json_braces", "The verdict is one of {GO, PIVOT, KILL}.", None, "no_json"),
    Case("brackets-options", "non_json_braces", "Verdict: [GO]", None, "no_json"),
    Case(
        "braces-then-answer",
        "non_json_braces",
        "Pick one of {GO, PIVOT, KILL} for {verdict}:\n" + compact(KILL),
        KILL,
    ),
    Case(
        "template-placeholders-then-fence",
        "non_json_braces",
        "I replaced {idea} and {context} with your inputs.\n" + fence(pretty(REV)),
        REV,
    ),
    # ---- json_refusal: extraction does not judge content ------------------------------------------------
    Case("json-refusal", "json_refusal", compact(REFUSAL), REFUSAL),
    Case("json-refusal-fenced", "json_refusal", "I can't complete this.\n" + fence(pretty(REFUSAL)), REFUSAL),
    Case(
        "json-refusal-after-think",
        "json_refusal",
        "<think>The idea is empty.</think>" + compact({"error": "empty_idea"}),
        {"error": "empty_idea"},
    ),
    # ---- bom_crlf ----------------------------------------------------------------------------------------
    Case("bom-start", "bom_crlf", "\ufeff" + pretty(KILL), KILL),
    Case("crlf-everywhere", "bom_crlf", ("Result:\n" + pretty(SYN) + "\nDone.").replace("\n", "\r\n"), SYN),
    Case("bom-in-middle", "bom_crlf", '{"verdict":\ufeff "GO"}', {"verdict": "GO"}),
    Case("crlf-fence", "bom_crlf", fence(pretty(KILL)).replace("\n", "\r\n") + "\r\n", KILL),
    # ---- raw_newlines: raw newlines and tabs inside strings are kept ----------------------------------
    Case(
        "raw-newline-in-string",
        "raw_newlines",
        '{"executiveSummary": "Freight audit for small brokers.\nLine two of the summary.\tTabbed note.", '
        '"oneLinePitch": "Stop paying\tcarriers twice."}',
        RAW_TEXT,
    ),
    Case(
        "raw-newline-fenced",
        "raw_newlines",
        fence('{\n  "summary": "first line\n  second line"\n}'),
        {"summary": "first line\n  second line"},
    ),
    Case(
        "raw-newline-python",
        "raw_newlines",
        "{'note': 'one\ntwo', 'ok': True}",
        {"note": "one\ntwo", "ok": True},
    ),
    # ---- nested_not_candidates: values inside a candidate are not candidates -----------------------------
    Case(
        "nested-bigger-than-siblings",
        "nested_not_candidates",
        compact({"verdict": "PIVOT", "detail": KILL}),
        {"verdict": "PIVOT", "detail": KILL},
    ),
    Case(
        "nested-array-not-separate",
        "nested_not_candidates",
        "Result: " + compact({"items": WILD}) + " end",
        {"items": WILD},
    ),
    Case(
        "nested-after-failed-prose",
        "nested_not_candidates",
        "{not json} then " + compact({"outer": {"inner": [1, 2, {"deep": True}]}}),
        {"outer": {"inner": [1, 2, {"deep": True}]}},
    ),
    # ---- null_pruning_shape: nulls are values, kept by extraction ---------------------------------------
    Case("nulls-kept", "null_values", compact(NULLS), NULLS),
    Case("nulls-python", "null_values", repr(NULLS), NULLS),
    # ---- more phases, mixed forms -----------------------------------------------------------------------
    Case("analytics-fenced-think", "think_block", THINK + fence(pretty(ANALYTICS)), ANALYTICS),
    Case("market-unclosed-fence", "fence_unclosed", "```json\n" + compact(MARKET), MARKET),
    Case("competitive-trailing-commas", "trailing_commas", trailing_commas(pretty(COMP)), COMP),
    Case("revenue-html", "html_escaped", html.escape(compact(REV)), REV),
    Case("tech-arch-double-encoded", "double_encoded", json.dumps(compact(TECH)), TECH),
    Case("launch-python", "python_literals", repr(LAUNCH), LAUNCH),
    Case(
        "synthesis-draft-correction-fenced",
        "draft_then_correction",
        fence(pretty({**SYN, "oneLinePitch": "Draft pitch."})) + "\nBetter:\n" + fence(pretty(SYN)),
        SYN,
    ),
    Case("truncated-market-35", "truncated", "```json\n" + cut(pretty(MARKET), 0.35), None, "truncated"),
    Case("truncated-competitive-65", "truncated", cut(compact(COMP), 0.65), None, "truncated"),
]
