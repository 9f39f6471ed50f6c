"""``{{TOKEN}}`` rendering: defaults, token rules, spacing repair, and the template check.

Properties (hypothesis) for the rules in the product doc: {{NAME}} falls back to
"there", other missing values to empty without leaving "Hi , this is..." gaps,
tokens resolve case-insensitively, and CSV values are data, never templates.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from dialcli.errors import InputError
from dialcli.templates import (
    NAME_FALLBACK, check_template, lead_context, normalize_header, render, render_for_lead,
    tokens_used,
)

# Jinja keywords/literals and globals cannot be written as a bare lowercase token.
_RESERVED = {"true", "false", "none", "and", "or", "not", "if", "else", "in", "is", "for",
             "range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "self",
             "caller", "varargs", "kwargs"}

token_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda t: t.lower() not in _RESERVED)
words = st.from_regex(r"[A-Za-z][A-Za-z0-9']{0,8}", fullmatch=True)
# Values: any text; blank ones count as missing.
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=30)
present_values = values.filter(lambda v: v.strip() != "")


# -- NAME / EMAIL defaults ---------------------------------------------------------------

@given(name=st.one_of(st.none(), st.text(" \t\n", max_size=5)))
def test_blank_name_falls_back_to_there(name):
    assert render_for_lead("{{NAME}}", name=name, email=None, variables={}) == NAME_FALLBACK
    assert render("Hi {{NAME}}!", {"NAME": name}) == f"Hi {NAME_FALLBACK}!"


@given(name=present_values)
def test_a_real_name_is_used_verbatim_but_stripped(name):
    assert render_for_lead("{{NAME}}", name=name, email=None, variables={}) == name.strip()


def test_csv_name_column_cannot_override_the_lead_name():
    ctx = lead_context("Alex", None, {"NAME": "Mallory", "CITY": "LA"})
    assert ctx["NAME"] == "Alex" and ctx["EMAIL"] == "" and ctx["CITY"] == "LA"


@given(email=st.one_of(st.none(), st.just(""), st.just("   ")))
def test_missing_email_is_empty(email):
    assert render_for_lead("Mail {{EMAIL}} now", name="A", email=email, variables={}) == "Mail now"


# -- token rules -------------------------------------------------------------------------

@given(token=token_names, value=present_values)
def test_tokens_resolve_case_insensitively(token, value):
    ctx = {token: value}
    for spelling in (token, token.lower(), token.title()):
        assume(spelling.lower() not in _RESERVED)
        assert render("{{" + spelling + "}}", ctx) == value
        assert render("{{ " + spelling + " }}", ctx) == value


@given(value=values.filter(lambda v: v.strip() != ""))
@example(value="{{ 7*7 }}")
@example(value="{% for x in y %}")
@example(value="{# comment #}")
@example(value="}}{{")
def test_values_are_data_never_templates(value):
    assert render("{{X}}", {"X": value}) == value
    assert render("[{{ x }}]", {"X": value}) == f"[{value}]"


@given(header=st.lists(words, min_size=2, max_size=4))
def test_headers_may_be_written_as_in_the_csv(header):
    spaced = " ".join(header)
    token = normalize_header(spaced)
    assume(token and token[0].isalpha())
    assert tokens_used("{{" + spaced + "}}") == {token}
    assert render("{{" + spaced + "}}", {token: "v"}) == "v"
    assert render("{{" + "-".join(header) + "}}", {token: "v"}) == "v"


def test_tokens_used_examples():
    assert tokens_used("Hi {{NAME}}, case {{case number}} {{ Tax-ID }}") == \
        {"NAME", "CASE_NUMBER", "TAX_ID"}
    assert tokens_used("{% if AMOUNT %}${{ amount }}{% endif %}") == {"AMOUNT"}
    assert tokens_used("{% for d in DEBTS %}{{ d }}{% endfor %}") == {"DEBTS"}
    assert tokens_used("no tokens") == set()
    assert tokens_used("{{ broken") == set()


# -- missing values and spacing -----------------------------------------------------------

@st.composite
def sentences(draw):
    """A sentence of words and tokens, and values for some of the tokens."""
    parts = draw(st.lists(st.one_of(words.map(lambda w: ("w", w)),
                                    token_names.map(lambda t: ("t", t))), min_size=1, max_size=10))
    ctx = {}
    for kind, text in parts:
        if kind == "t" and text != "NAME" and text not in ctx:
            ctx[text] = draw(st.one_of(st.just(""), st.just("  "), words))
    if draw(st.booleans()):
        ctx = {k: v for k, v in ctx.items() if v}      # missing instead of empty
    return parts, ctx


@settings(max_examples=150)
@given(sentences(), st.sampled_from(["", ".", "?", ","]))
def test_missing_tokens_leave_no_gaps(case, punct):
    parts, ctx = case
    source = " ".join(text if kind == "w" else "{{" + text + "}}" for kind, text in parts) + punct
    out = render(source, ctx)
    expected_words = []
    for kind, text in parts:
        value = text if kind == "w" else (NAME_FALLBACK if text == "NAME" else ctx.get(text, ""))
        if value.strip():
            expected_words.append(value)
    assert out == " ".join(expected_words) + punct
    assert "  " not in out and out == out.strip() or out == punct
    assert not re.search(r" [,.?]", out)


@pytest.mark.parametrize("source, expected", [
    ("Hi {{NAME}}, this is Zara about {{CASE}}.", "Hi there, this is Zara about."),
    ("Dear {{A}} {{B}} Smith", "Dear Smith"),
    ("balance of ${{AMOUNT}}.", "balance of $."),
    ("({{A}} note)", "(note)"),
    ("Line one {{A}}\n{{B}} line two", "Line one\nline two"),
    ("{% if AMOUNT %}You owe ${{AMOUNT}}.{% else %}No balance.{% endif %}", "No balance."),
])
def test_spacing_examples(source, expected):
    assert render(source, {}) == expected


def test_filters_work_and_missing_filtered_values_stay_empty():
    assert render("{{ name|upper }} {{ AMOUNT|default('n/a') }}", {"NAME": "al"}) == "AL n/a"
    assert render("x {{ CITY|title }} y", {}) == "x y"


# -- text without tokens -------------------------------------------------------------------

@given(st.text(st.characters(blacklist_categories=("Cs",),
                             blacklist_characters="{}%#\x00\r"), max_size=200))
def test_plain_text_renders_unchanged(text):
    assert render(text, {}) == text
    check_template(text, field="greeting")


# -- the template check ----------------------------------------------------------------------

@settings(max_examples=50)
@given(lines=st.lists(st.lists(st.one_of(words, token_names.map(lambda t: "{{" + t + "}}")),
                               min_size=1, max_size=6).map(" ".join), min_size=1, max_size=6),
       data=st.data())
def test_a_broken_token_is_reported_on_its_line(lines, data):
    check_template("\n".join(lines), field="greeting")            # well-formed: accepted
    bad = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    broken = list(lines)
    broken[bad] = broken[bad] + " {{ UNCLOSED"
    with pytest.raises(InputError) as exc:
        check_template("\n".join(broken), field="greeting")
    assert f"The greeting is not a valid template (line {bad + 1}, column " in exc.value.message
    assert broken[bad] in exc.value.hint


@pytest.mark.parametrize("source", [
    "{{ NAME.__class__ }}", "{{ NAME['__class__'] }}", "{{ NAME|attr('__init__') }}",
    "ok\n{{ x._private }}",
])
def test_private_attributes_are_refused(source):
    with pytest.raises(InputError, match="may not"):
        check_template(source, field="system prompt")


@pytest.mark.parametrize("source", ["{% if %}", "{{ }}", "{% endif %}", "{% for x in %}", "{{ a b c }"])
def test_malformed_templates_are_refused(source):
    with pytest.raises(InputError, match="not a valid template"):
        check_template(source)


@settings(max_examples=200)
@given(variables=st.dictionaries(token_names, values, max_size=5), name=values)
def test_rendering_real_templates_never_fails(variables, name):
    for source in ("Hi {{NAME}}, about {{CASE_NUMBER}} ({{ amount|default('?') }}).",
                   "{% if AMOUNT %}You owe ${{ AMOUNT }}{% endif %}. {{ city|title }}",
                   "{{ NAME|upper }} {{ EMAIL }}"):
        out = render_for_lead(source, name=name, email=None, variables=variables)
        assert "\x00" not in out
