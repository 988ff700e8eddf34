#!/usr/bin/env python3
"""Writes tests/fixtures/chat_templates/<family>.json: the chat template each supported family
ships, a set of conversations, and what jinja2 renders for each, configured exactly as
transformers configures it (transformers.utils.chat_template_utils._compile_jinja_template:
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, the {% generation %}
tag, and its tojson / raise_exception / strftime_now). tests/io/chat_template_test.cc checks that
the C++ interpreter (src/io/jinja/) renders every case byte for byte the same, and fails where
jinja2 fails.

snippets.json holds small templates, one rule each, with what jinja2 renders or raises.

Each family's file: {"family", "source" (where the template text comes from), "template", "cases": [{"name",
"context" (the variables passed to the template, as apply_chat_template passes them: messages,
tools=None, documents=None, add_generation_prompt, the special tokens), "expected" (the rendered
text) or "error" (jinja2's exception)}]}.

Usage: /work/main/.venv/bin/python tools/make_chat_template_fixtures.py [--smollm2-gguf PATH]
(with the GGUF that scripts/get_models.sh fetches, it also checks that SMOLLM2 below equals the
GGUF's tokenizer.chat_template).
"""

import argparse
import json
import pathlib
import re

from transformers.utils.chat_template_utils import _compile_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "chat_templates"

# Qwen/Qwen2-VL-2B-Instruct, chat_template.json (the same text appears in public code that
# renders it, e.g. shell-nlp/gpt_server tests/test_chat_template.py).
QWEN2_VL = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# HuggingFaceTB/SmolVLM-256M-Instruct, chat_template.json (also transformers' SmolVLM processor
# DEFAULT_CHAT_TEMPLATE without the video branch, and its processor test).
SMOLVLM = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# HuggingFaceTB/SmolLM2-135M-Instruct: tokenizer.chat_template of the GGUF that
# scripts/get_models.sh fetches (checked against it with --smollm2-gguf).
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# OpenGVLab/InternVL2_5-1B, tokenizer_config.json: ChatML with InternVL's default system prompt
# (the prompt of InternVL's "internvl2_5" conversation template, which public code quoting it
# confirms); the checkpoint was not reachable here to compare byte for byte.
INTERNVL2_5 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{'<|im_start|>system\n你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位"
    "联合开发的多模态大语言模型。<|im_end|>\n'}}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Written for this test: the constructs the interpreter implements that the shipped templates do
# not use (macros, namespace, filters, tests, slicing, loop controls, block set, tojson), laid
# out over indented lines so trim_blocks and lstrip_blocks decide the whitespace.
FEATURES = """{#- Exercises the interpreter; indented so trim_blocks / lstrip_blocks matter. -#}
{%- set ns = namespace(images=0) -%}
{%- macro render_part(part, prefix='') -%}
    {%- if part.type == 'image' -%}
        {%- set ns.images = ns.images + 1 -%}
        {{ prefix }}<image {{- ns.images }}>
    {%- elif part['type'] == 'text' -%}
        {{ prefix }}{{ part.text | trim }}
    {%- else -%}
        {{ raise_exception('unknown part type ' ~ part.type) }}
    {%- endif -%}
{%- endmacro -%}
{{ bos_token }}
{% if messages[0].role == 'system' %}
    {% set system = messages[0].content if messages[0].content is string else messages[0].content | selectattr('type', 'equalto', 'text') | map(attribute='text') | join(' ') %}
    {% set rest = messages[1:] %}
{% else %}
    {% set system = 'Default system.' %}
    {% set rest = messages %}
{% endif %}
[SYS] {{ system | upper }} ({{ system | length }} chars)
{% for message in rest %}
    {% if message.role not in ['user', 'assistant'] %}
        {{ raise_exception('Unexpected role: ' + message.role) }}
    {% endif %}
    {% if (message.role == 'user') != (loop.index0 % 2 == 0) %}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {% endif %}
<{{ message.role | capitalize }} {{ loop.index }}/{{ loop.length }}{{ ' first' if loop.first }}{{ ' last' if loop.last else '' }}>
    {% if message.content is string %}
    {{ message.content | replace('\\n', ' / ') }}
    {% else %}
        {% for part in message.content %}
    {{ render_part(part, prefix=loop.index ~ ') ') }}
        {% endfor %}
    {% endif %}
    {% if message.role == 'assistant' %}
        {% generation %}{{ eos_token }}{% endgeneration %}
    {% endif %}
{% endfor %}
{% if add_generation_prompt %}
<Assistant>{{- ' images=' ~ ns.images -}}
{% endif %}
{{ {'n': messages | length, 'roles': messages | map(attribute='role') | list, 'tools': tools} | tojson }}
{{ messages[-1].role[:3] }}|{{ (messages | last).role[::-1] }}|{{ 'x' in 'xyz' }}|{{ 7 // 2 }}|{{ 2 ** 8 }}|{{ -7 % 3 }}|{{ 1.5 * 2 }}|{{ 7 / 2 }}|{{ none | default('d', true) }}|{{ missing | default('dflt') }}|{{ missing is defined }}|{{ [1, 'a', none, true] }}
{%- for k, v in {'a': 1, 'b': [1, 2]} | items %} {{ k }}={{ v }}{% endfor %}

{% for i in range(6) if i is odd %}{{ i }}{% if loop.last %}.{% else %},{% endif %}{% endfor %}
{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}
{% for x in [] %}never{% else %}empty loop{% endfor %}
{% set block %}  captured {{ 'some text' | title }}  {% endset %}[{{ block | trim }}]
{#+ a comment that keeps its indentation #}
  {%+ if true %}kept indentation{% endif +%}
done
"""

# Small templates, each probing one rule of jinja2 that a chat template may lean on (whitespace
# control, scoping, Python formatting, filters, tests, errors), rendered over SNIPPET_CONTEXT into
# snippets.json.
SNIPPET_CONTEXT = {"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello"}],
                   "s": "  Héllo, 书生 World  ", "n": 7, "f": 2.5, "xs": [3, 1, 2], "d": {"b": 1, "a": 2},
                   "none_value": None, "flag": True}
SNIPPETS = [
    "a\n  {% if true %}\n    x\n  {% endif %}\nb",
    "a  {%- if true -%}  x  {%- endif -%}  b",
    "a\n  {{ 'v' }}\n  {# c #}\nb\n",
    "{% for m in messages %}\n  {{- m.role }}\n{% endfor %}",
    "x\r\n{% if true %}\r\ny{% endif %}\n\n",
    "  {%+ if true %}kept{% endif +%}\nnext",
    "{{ 'tab\\there' }}|{{ \"dq'\" }}|{{ '\\u4e66\\x41\\101' }}|{{ 'a' 'b' }}|{{ '\\d' }}",
    "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 123456789012345678.0 }} {{ 10 / 4 }} {{ -0.0 }}",
    "{{ n // 2 }} {{ -n // 2 }} {{ n % -3 }} {{ f // 1 }} {{ 2 ** 62 }} {{ n * 'ab' }} {{ [0] * 3 }}",
    "{{ none_value }} {{ flag }} {{ [none_value, flag, 'q', 1.5] }} {{ d }} {{ missing }}",
    "{% set count = 0 %}{% for i in xs %}{% set count = count + 1 %}{{ count }}{% endfor %}{{ count }}",
    "{% set ns = namespace(total=0) %}{% for i in xs %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
    "{% for i in xs %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}|{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}|{{ d | items | list }}",
    "{% for c in 'ab书' %}[{{ c }}]{% endfor %} {{ s | length }} {{ s[2:5] }} {{ s[-3:] }} {{ s[::3] }} {{ xs[::-1] }} {{ xs[5:] }}",
    "{{ s | trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxaxx'.strip('x') }}|{{ s | upper }}|{{ s | lower }}",
    "{{ 'hello world-foo' | title }}|{{ 'hELLO' | capitalize }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}",
    "{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'ab' | replace('', '-') }}|{{ 'abc'.replace('b', 'X') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}",
    "{{ xs | join(', ') }}|{{ messages | map(attribute='role') | join }}|{{ xs | first }}{{ xs | last }}|{{ xs | list | length }}|{{ xs | reverse | list }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='content') | first }}|{{ xs | select('odd') | list }}|{{ ['A', 'b'] | map('lower') | list }}",
    "{{ d | tojson }}|{{ {'k': [1, 2.5, none, true, 'é\"\\n']} | tojson }}|{{ xs | tojson(indent=2) }}|{{ {} | tojson(indent=2) }}",
    "{{ missing | default('x') }}{{ none_value | default('y') }}{{ '' | default('z', true) }}{{ n | string }}{{ '42' | int + 1 }}{{ 'x' | int }}{{ '2.5' | float }}{{ -3 | abs }}",
    "{{ n is odd }}{{ n is even }}{{ n is divisibleby 7 }}{{ s is string }}{{ xs is iterable }}{{ d is mapping }}{{ none_value is none }}{{ missing is defined }}{{ missing is undefined }}{{ n is number }}{{ f is integer }}{{ flag is boolean }}{{ n is not none }}{{ n is in xs }}{{ 'ab' is lower }}",
    "{{ 'b' in 'abc' }}{{ 3 in xs }}{{ 'a' in d }}{{ 'z' not in d }}{{ 1 == 1.0 }}{{ 1 == true }}{{ [1, 2] == [1, 2] }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ none_value == none }}",
    "{{ 'yes' if flag else 'no' }}{{ 'x' if not flag }}|{{ flag and 'A' }}|{{ none_value or 'B' }}|{{ (1, 2) | length }}|{{ not none_value }}",
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}",
    "{% set block %}  inner {{ n }} {% endset %}[{{ block }}]{% set a, b = [1, 2] %}{{ a }}{{ b }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 10, 4) %}{{ i }}{% endfor %}|{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}|{{ range(0) | length }}",
    "{% for i in xs if i > 1 %}{{ i }}{{ loop.length }}{% else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}",
    "{% for i in xs %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% if loop.index >= 2 %}{% break %}{% endif %}{% endfor %}",
    "{% if n > 10 %}big{% elif n > 5 %}medium{% else %}small{% endif %}",
    "{{ messages[0]['content'][0] }}{{ messages[0].content[-1] }}|{{ messages[5] }}|{{ 'abc'['x'] }}|{{ d.get('a') }}{{ d.get('q', 0) }}|{{ d.keys() | list }}{{ d.values() | list }}",
    "{{ 'yes' if xs | selectattr('missing') else 'no' }}|{{ xs | select | list | length }}|{{ xs | map('string') | join(',') }}|{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %}|{{ xs | reverse | first }}",
    "{{ xs | select | length }}",
    "{{ missing | int }}",
    "{{ n[1:] }}",
    "{{ d | items }}",
    "{{ xs[1:] in d }}",
    "{{ x.y }}",
    "{{ 1 + 'a' }}",
    "{{ raise_exception('stop here') }}",
    "{% for x in n %}{% endfor %}",
]

IMAGE = {"type": "image"}


def text(t):
    return {"type": "text", "text": t}


# Conversations as apply_chat_template receives them. "parts": content as lists of
# {"type": ...} parts (what multimodal processors take); "strings": content as plain strings.
CONVERSATIONS = {
    "parts_single_image": ([{"role": "user", "content": [IMAGE, text("What is in the picture?")]}], True),
    "parts_system_two_images": ([
        {"role": "system", "content": [text("You describe images tersely.")]},
        {"role": "user", "content": [IMAGE, IMAGE, text("Compare the two pictures.")]},
    ], True),
    "parts_multi_turn": ([
        {"role": "user", "content": [IMAGE, text("What animal is this?")]},
        {"role": "assistant", "content": [text("A cat.")]},
        {"role": "user", "content": [text("What colour is it?")]},
    ], True),
    "parts_text_before_image_no_prompt": ([
        {"role": "user", "content": [text("Look at this:"), IMAGE]},
        {"role": "assistant", "content": [text("I see a red car.")]},
    ], False),
    "strings_single": ([{"role": "user", "content": "What is 2+3?"}], True),
    "strings_system_multi_turn": ([
        {"role": "system", "content": "You are a calculator."},
        {"role": "user", "content": "What is 2+3?"},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": "And times 4?"},
    ], True),
    "strings_special_characters": ([
        {"role": "user", "content": "Quotes ' \" and \\ backslash,\nnew line, tab\t, 书生, emoji 🙂, {{ not a tag }} {% raw %}"},
    ], True),
    "strings_no_generation_prompt": ([
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ], False),
    "strings_roles_do_not_alternate": ([
        {"role": "user", "content": "One"},
        {"role": "user", "content": "Two"},
    ], True),
}

FAMILIES = {
    "llava_1_5": ("tests/fixtures/llava/model/chat_template.json (llava-hf/llava-1.5-7b-hf, verbatim)",
                  None, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}),
    "qwen2": ("tests/fixtures/qwen2/model/tokenizer_config.json (Qwen2-Instruct's ChatML template)",
              None, {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "qwen2_vl": ("Qwen/Qwen2-VL-2B-Instruct chat_template.json", QWEN2_VL,
                 {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "smolvlm": ("HuggingFaceTB/SmolVLM-256M-Instruct chat_template.json", SMOLVLM,
                {"bos_token": "<|im_start|>", "eos_token": "<end_of_utterance>", "pad_token": "<|im_end|>"}),
    "smollm2": ("HuggingFaceTB/SmolLM2-135M-Instruct (GGUF tokenizer.chat_template)", SMOLLM2,
                {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}),
    "internvl2_5": ("OpenGVLab/InternVL2_5-1B tokenizer_config.json (see INTERNVL2_5 in the script)",
                    INTERNVL2_5, {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "features": ("written for this test (tools/make_chat_template_fixtures.py, FEATURES)", FEATURES,
                 {"bos_token": "<s>", "eos_token": "</s>"}),
}


def fixture_template(family):
    if family == "llava_1_5":
        path = ROOT / "tests/fixtures/llava/model/chat_template.json"
    else:
        path = ROOT / "tests/fixtures/qwen2/model/tokenizer_config.json"
    return json.loads(path.read_text())["chat_template"]


def render(template, context):
    compiled = _compile_jinja_template(template)
    try:
        text = compiled.render(**context)
    except Exception as error:  # jinja2 or Python error: the C++ side must fail too
        return {"error": f"{type(error).__name__}: {error}"}
    if re.search(r"<[a-z_]+ object .* at 0x[0-9a-f]+>", text):
        # A Python object's repr with its address (a generator printed): no text to match, so
        # the C++ side must refuse to print it.
        return {"error": f"prints a Python object: {text!r}"}
    return {"expected": text}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smollm2-gguf", type=pathlib.Path)
    args = parser.parse_args()
    if args.smollm2_gguf:
        import gguf
        field = gguf.GGUFReader(args.smollm2_gguf).fields["tokenizer.chat_template"]
        shipped = bytes(field.parts[field.data[0]]).decode()
        assert shipped == SMOLLM2, "SMOLLM2 differs from the GGUF's tokenizer.chat_template"
        print("SMOLLM2 equals the GGUF's tokenizer.chat_template")
    OUT.mkdir(parents=True, exist_ok=True)
    for family, (source, template, special_tokens) in FAMILIES.items():
        template = template if template is not None else fixture_template(family)
        cases = []
        for name, (messages, add_generation_prompt) in CONVERSATIONS.items():
            context = {"messages": messages, "tools": None, "documents": None,
                       "add_generation_prompt": add_generation_prompt, **special_tokens}
            cases.append({"name": name, "context": context, **render(template, context)})
            if family == "qwen2_vl" and name.startswith("parts"):
                context = {**context, "add_vision_id": True}
                cases.append({"name": name + "_vision_id", "context": context, **render(template, context)})
        rendered = sum("expected" in case for case in cases)
        assert rendered >= 4, f"{family}: only {rendered} cases render"
        path = OUT / f"{family}.json"
        path.write_text(json.dumps({"family": family, "source": source, "template": template,
                                    "cases": cases}, ensure_ascii=False, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: {rendered} rendered, {len(cases) - rendered} errors")
    snippets = [{"template": template, **render(template, SNIPPET_CONTEXT)} for template in SNIPPETS]
    path = OUT / "snippets.json"
    path.write_text(json.dumps({"context": SNIPPET_CONTEXT, "cases": snippets}, ensure_ascii=False,
                               indent=1) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(snippets)} snippets")


if __name__ == "__main__":
    main()
