"""Chat templates: lib/tok's Jinja subset (through the jinja_render helper) against
Python's jinja2, configured as Hugging Face's apply_chat_template configures it
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, raise_exception, tojson
with ensure_ascii=False). Every case must give the same bytes, or both must fail
(the C side with a status; a case marked 'unsupported' must fail with E_UNSUPPORTED).

usage: test_jinja_ref.py JINJA_RENDER TESTS_TOK_DIR"""
import json
import os
import subprocess
import sys
import tempfile

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(Extension):
    """{% generation %}...{% endgeneration %} as transformers' AssistantTracker renders
    it when no assistant mask is asked for: the body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()

E_INVALID_ARG, E_UNSUPPORTED, E_FORMAT = -1, -5, -4


def hf_env():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


ENV = hf_env()


def render_py(case):
    kw = {"messages": case["messages"], "add_generation_prompt": case["add_generation_prompt"],
          "tools": None, "documents": None}
    for k in ("bos_token", "eos_token"):
        if case.get(k) is not None:
            kw[k] = case[k]
    try:
        return ENV.from_string(case["template"]).render(**kw), None
    except Exception as e:  # any jinja2 failure: the C side must fail too
        return None, f"{type(e).__name__}: {e}"


def conversations():
    """Conversations over system / no system, multi-turn, empty, unicode, whitespace."""
    u = lambda c: {"role": "user", "content": c}
    a = lambda c: {"role": "assistant", "content": c}
    s = lambda c: {"role": "system", "content": c}
    return [
        [u("Hello")],
        [u("  Hi there \n")],
        [s("Be brief."), u("What is 2+2?")],
        [s("  padded system \t"), u("q"), a("a"), u("q2")],
        [u("one"), a("two"), u("three"), a("four"), u("five")],
        [u("")],
        [s(""), u("")],
        [u("caf\u00e9 \u65e5\u672c\u8a9e \U0001F600 \u0645\u0631\u062d\u0628\u0627")],
        [u("\u3000full-width space\u3000"), a("\u00a0nbsp\u00a0")],
        [u("line1\nline2\r\nline3"), a("tab\there")],
        [u("quotes ' \" and braces {{ x }} {% y %}")],
        [u("<|im_start|> looks special"), a("<|eot_id|>")],
        [s("sys"), u("q"), a("<think>reasoning</think>\n\nanswer"), u("again")],
        [u("x" * 3000)],
        [],
    ]


TOKENS = [("<|startoftext|>", "<|endoftext|>"), ("<|beginoftext|>", "<|endoftext|>"), (None, None)]

# (template, conversation or None for a fixed one, expect): expect "same" (both render,
# identical bytes), "error" (both fail), "unsupported" (C fails with E_UNSUPPORTED;
# jinja2 may render).
M1 = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
CONSTRUCTS = [
    "plain text only", "", "\n", "a\n\n", "{{ 'x' }}\n", "a\r\nb\rc{{ 'd\r\ne' }}",
    "{# comment #}x", "  {# c #}\n  y", "{#- c -#}  \n  z", "x  {#+ c +#}\n w",
    "  {% if true %}\n  in\n  {% endif %}\n", "{%+ if true %}x{% endif %}", "{% if true +%}\nx{% endif %}",
    "a  {%- if true -%}  b  {%- endif -%}  c", "a {{- 'b' -}} c", "a {{+ 'b' }}\nc", "\t {% if 1 %}\n{% endif %}",
    "x\n  {% if 1 %}y{% endif %}  \n", "{{ 'a' }}  {% if 1 %}\nq{% endif %}",
    "{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ -3 }} {{ +4 }} {{ 3 - 5 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ undefined_name }}", "{{ 'ab' * 3 }}{{ 2 * 'c' }}{{ 'z' * 0 }}",
"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
    "{{ 1 == true }} {{ 'a' != 'b' }} {{ none == none }} {{ x == y }} {{ [1] == [1] }}",
    "{{ 'b' in 'abc' }} {{ 'd' not in 'abc' }} {{ 2 in [1, 2] }} {{ 'role' in messages[0] }} {{ 'x' in nothing }}",
    "{{ not 0 }} {{ not '' }} {{ 1 and 'y' }} {{ 0 or 'z' }} {{ '' or none }} {{ ([] and 1) | length }}",
    "{{ 'yes' if messages else 'no' }} {{ 'a' if false }}.",
    "{% if false %}a{% elif messages | length > 1 %}b{% else %}c{% endif %}",
    "{% if 0 %}1{% elif 0 %}2{% elif 1 %}3{% endif %}",
    "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }} {% endfor %}",
    "{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% else %}empty{% endfor %}",
    "{% for m in [] %}x{% else %}empty{% endfor %}", "{% for c in 'h\u00e9!' %}[{{ c }}]{% endfor %}",
    "{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", "{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(5, 1, -2) %}{{ i }}{% endfor %}",
    "{% for i in [1, 2, 3, 4] %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}",
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}",
    "{% for i in [1, 2] %}{% if i == 2 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}",
    "{% set ns = namespace(a=1, b='s') %}{% for i in [1, 2, 3] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}{{ ns.c }}",
    "{% set ns = namespace() %}{% set ns.found = false %}{% for m in messages %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
    "{{ messages[0].role }} {{ messages[-1]['content'] }} {{ messages[5] }} {{ messages[0]['nope'] }} {{ messages[0].nope is defined }}",
    "{{ messages[1:] | length }} {{ messages[:1][0].role }} {{ messages[::-1][0].role }} {{ 'h\u00e9llo'[1:3] }} {{ 'abc'[::-1] }} {{ 'abc'[-1] }} {{ 'abc'[-5:] }}",
    "{{ [1, 2, 3, 4, 5][1:4:2] | tojson }} {{ [1, 2, 3][5:] | tojson }} {{ [1, 2, 3][-2:] | tojson }}",
    "{{ '  x y  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ '\u3000\u00a0a\u2029' | trim }}|{{ undefined_name | trim }}",
    "{{ 'h\u00e9' | length }} {{ messages | length }} {{ {'a': 1} | count }} {{ nothing | length }}",
    "{{ 'AbC' | upper }} {{ 'AbC' | lower }} {{ 'x' | string }} {{ 1 | string }} {{ none | string }}",
    "{{ nothing | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} {{ 'v' | d('d') }} {{ nothing | default }}.",
    "{{ messages | tojson }}", "{{ {'a': [1, true, none, 'q\"\\\\\\n\\t\\u0001\u00e9']} | tojson }}", "{{ 'x' | tojson }}{{ 5 | tojson }}",
    "{{ nothing is defined }} {{ nothing is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }}",
    "{{ messages is mapping }} {{ messages[0] is mapping }} {{ messages is sequence }} {{ 'a' is iterable }} {{ nothing is iterable }} {{ true is boolean }} {{ 1 is not string }}",
    "{{ '  a b  '.strip() }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith('c') }}",
    "{{ 'a,b,,c'.split(',') | tojson }} {{ '  a  b \\n c '.split() | tojson }} {{ ''.split() | tojson }} {{ ''.split(',') | tojson }}",
    "{{ 'AbC'.upper() }}{{ 'AbC'.lower() }} {{ messages[0].get('role') }} {{ messages[0].get('x', 'dflt') }} {{ messages[0].get('x') }}",
    "{{ 'a' 'b' \"c\" }} {{ '\\x41\\u00e9\\101\\d\\n' }}", "{{ (1, 2) | tojson }} {{ [1, [2, 3]] | tojson }} {{ {'k': 'v', 'n': {}} | tojson }}",
    "{{ bos_token }}{{ eos_token }}", "{% if add_generation_prompt %}gen{% endif %}",
    "{% if tools %}t{% endif %}{% if tools is none %}none{% endif %}{{ documents }}",
    "{% generation %}inside{% endgeneration %}",
]
ERRORS = [  # jinja2 fails, so must the C side
    "{{ nothing + 'a' }}", "{{ nothing.attr }}", "{{ nothing[0] }}", "{{ 'a' < 1 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}",
    "{% for x in 5 %}{% endfor %}", "{{ 'a' + 1 }}", "{% if %}{% endif %}", "{% if true %}", "{% for x in y %}",
    "{{ 'unterminated }}", "{{ x ", "{% endif %}", "{{ (1 }}", "{{ 1 ) }}", "{# open", "{{ }}", "{% set ns.a = 1 %}",
    "{{ 1 in 'a' }}", "{{ 'a'.split('') }}", "{% break %}", "{% if x %}{% else %}{% else %}{% endif %}",
    "{{ raise_exception('no') }}", "{{ 'x' | tojson(indent=2) | nothere }}",
]
UNSUPPORTED = [  # outside the subset: C fails with E_UNSUPPORTED whatever jinja2 does
    "{{ 'x' | replace('x', 'y') }}", "{{ 'x' is divisibleby(3) }}", "{% macro f() %}{% endmacro %}",
    "{% raw %}x{% endraw %}", "{{ 'x'.title() }}", "{{ 1.5 }}", "{{ 3 / 2 }}", "{{ 'x' | indent }}",
    "{% for a, b in [[1, 2]] %}{% endfor %}", "{% for x in [1] if x %}{% endfor %}", "{{ strftime_now('%Y') }}",
    "{% if pad_token is defined %}{% endif %}", "{{ [1, 2] }}", "{{ 'é'.upper() }}", "{{ 'x' | tojson(indent=2) }}",
    "{% set x %}a{% endset %}", "{{ messages[0].items() }}", "{{ loop.cycle }}{% for x in [1] %}{{ loop.cycle('a') }}{% endfor %}",
    "{% for x in [1] %}{{ loop.previtem }}{% endfor %}", "{{ 'a'.upper }}", "{{ 'x' % 2 }}", "{% include 'x' %}",
    "{{ foo(1) }}", "{{ '\\N{DASH}' }}", "{% with %}{% endwith %}", "{{ 2 ** -1 }}", "{{ 9223372036854775807 + 1 }}",
    "{{ {1: 2} }}", "{{ messages[0] | tojson(sort_keys=true) }}",
]


def main():
    render, here = sys.argv[1], sys.argv[2]
    templates = {}
    for name, sub in (("llada", "tokenizers/llada-8b-instruct"), ("dream", "tokenizers/dream-v0-instruct-7b")):
        with open(os.path.join(here, "data", sub, "tokenizer_config.json"), encoding="utf-8") as f:
            templates[name] = json.load(f)["chat_template"]
    for fn in sorted(os.listdir(os.path.join(here, "data", "chat_templates"))):
        with open(os.path.join(here, "data", "chat_templates", fn), encoding="utf-8", newline="") as f:
            templates[fn] = f.read()

    cases = []
    for name, tpl in templates.items():
        for conv in conversations():
            for agp in (False, True):
                for bos, eos in TOKENS:
                    cases.append(dict(template=tpl, messages=conv, add_generation_prompt=agp, bos_token=bos,
                                      eos_token=eos, expect="any", what=name))
    for tpl in CONSTRUCTS + ERRORS:
        for agp in (False, True):
            cases.append(dict(template=tpl, messages=M1, add_generation_prompt=agp, bos_token="<s>",
                              eos_token="</s>", expect="error" if tpl in ERRORS else "same", what="construct"))
    for tpl in UNSUPPORTED:
        cases.append(dict(template=tpl, messages=M1, add_generation_prompt=True, bos_token="<s>", eos_token="</s>",
                          expect="unsupported", what="unsupported"))

    with tempfile.TemporaryDirectory() as tmp:
        cin, cout = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(cin, "w", encoding="utf-8") as f:
            json.dump(cases, f)
        subprocess.run([render, cin, cout], check=True)
        with open(cout, encoding="utf-8") as f:
            results = json.load(f)
    assert len(results) == len(cases)

    failures, rendered, errored = 0, 0, 0
    for case, res in zip(cases, results):
        want, perr = render_py(case)
        got = res.get("ok")
        bad = None
        if case["expect"] == "unsupported":
            if res.get("status") != E_UNSUPPORTED:
                bad = f"want E_UNSUPPORTED, got {res}"
        elif want is None:
            if got is not None:
                bad = f"jinja2 fails ({perr}), C renders {got!r}"
            elif case["expect"] == "same":
                bad = f"a construct that jinja2 renders is expected ({perr})"
            else:
                errored += 1
        elif got is None:
            bad = f"jinja2 renders {want!r}, C fails: {res}"
        elif got != want:
            bad = f"texts differ:\n  jinja2: {want!r}\n  C:      {got!r}"
        else:
            rendered += 1
        if case["expect"] == "error" and want is not None:
            bad = f"expected jinja2 to fail, it rendered {want!r}"
        if bad:
            failures += 1
            conv = json.dumps(case["messages"], ensure_ascii=False)[:120]
            print(f"FAIL [{case['what']}] {case['template'][:100]!r} agp={case['add_generation_prompt']} "
                  f"bos={case['bos_token']!r} msgs={conv}\n  {bad}")
    print(f"{len(cases)} cases: {rendered} identical renders, {errored} failing on both sides, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
