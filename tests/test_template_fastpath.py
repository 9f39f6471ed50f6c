"""The plain-token fast path renders exactly what Jinja renders."""

from hypothesis import given, settings, strategies as st

from dialcli import templates as T

SOURCES = [
    "Hi {{NAME}}, case {{CASE_NUMBER}} where you owe ${{AMOUNT}}. Do you have a minute?",
    "Hello {{ name }} {{Email}} {{case number}} x {{ Case_Number }} {{Tax-ID}}!",
    "{{A}}{{B}} {{C}}", "plain text", "{{NAME}}", " {{X}} , {{Y}}. ", "a\n{{A}}\n\n{{B}}\n",
]
VALUES = st.one_of(st.none(), st.text(max_size=6), st.integers(),
                   st.sampled_from(["", " ", "{{7*7}}", "{% if %}", "x"]))
KEYS = st.sampled_from(["NAME", "EMAIL", "CASE_NUMBER", "AMOUNT", "TAX_ID", "A", "B", "C", "X", "Y"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SOURCES), st.dictionaries(KEYS, VALUES))
def test_fast_path_equals_jinja(monkeypatch_free_src, ctx):
    fast = T.render(monkeypatch_free_src, ctx)
    original = T._plain_parts
    T._plain_parts = lambda source: None
    try:
        slow = T.render(monkeypatch_free_src, ctx)
    finally:
        T._plain_parts = original
    assert fast == slow


def test_templates_with_blocks_take_the_jinja_path():
    assert T._plain_parts("{% if AMOUNT %}owe {{AMOUNT}}{% endif %}") is None
    assert T._plain_parts("{{ AMOUNT | default('0') }}") is None
    assert T._plain_parts("Hi {{NAME}}") == ("Hi ", "NAME", "")
