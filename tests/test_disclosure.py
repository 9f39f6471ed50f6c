"""Disclosure check: who is calling (first sentence) and a way to opt out."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialcli.compliance.disclosure import (
    DisclosureError, check_agent, enforce, first_sentence, identifies_caller, offers_opt_out,
    sentences,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("greeting,ok", [
    ("Hi {{NAME}}, this is Zara from Acme Recovery.", True),
    ("Hi {{NAME}}! This is Zara. How are you?", True),          # salutation, then identity
    ("Hello, my name is Sam with Bright Dental.", True),
    ("Good morning {{NAME}}, Acme Dental calling about your appointment.", True),
    ("Hi {{NAME}}, this is {{AGENT}} with {{COMPANY}}.", True),
    ("Hi Mr. Smith, this is Dr. Jones from St. Mary Clinic.", True),
    ("Hi, I'm Zara, an assistant for Acme.", True),
    ("Calling on behalf of Acme Recovery about your account.", True),
    ("Hi {{NAME}}, I am calling about your car warranty.", False),
    ("Hello, how are you today? This is Zara from Acme.", False),  # not in the first sentence
    ("Hi, I'm calling for {{NAME}}.", False),                    # the lead's name is not the caller
    ("We are calling about your account.", False),
    ("", False),
])
def test_identity_in_first_sentence(greeting, ok):
    assert identifies_caller(greeting) is ok


@pytest.mark.parametrize("text,ok", [
    ("Press 9 at any time to stop these calls.", True),
    ("If they ask to be removed, confirm and label OPT_OUT.", True),
    ("Say stop to opt out.", True),
    ("We'll remove your number from our list if you ask.", True),
    ("Tell them we will not call again: do not call list honoured.", True),
    ("Would you like a payment plan?", False),
    ("Press on with the pitch.", False),
])
def test_opt_out_mechanisms(text, ok):
    assert offers_opt_out(text) is ok


def test_sentence_split_keeps_abbreviations_amounts_and_tokens():
    assert sentences("Hi Dr. Jones. The balance is $5.00 today! {{A.B}} ok? End") == \
        ["Hi Dr. Jones.", "The balance is $5.00 today!", "{{A.B}} ok?", "End"]
    assert first_sentence("Hi there.  This is Zara.") == "This is Zara."
    assert first_sentence("Hi there.") == "Hi there."


def test_example_agent_passes():
    greeting = (EXAMPLES / "agent-greeting.txt").read_text()
    prompt = (EXAMPLES / "agent-prompt.txt").read_text()
    assert check_agent(greeting, prompt) == []


def test_warnings_and_strict():
    warnings = check_agent("Hello, how are you today?", "You are a helpful assistant.")
    assert [w.code for w in warnings] == ["identity", "opt_out"]
    assert "does not say who is calling" in warnings[0].message
    assert "'Hello, how are you today?'" in warnings[0].message
    assert enforce(warnings, strict=False) == warnings
    with pytest.raises(DisclosureError) as info:
        enforce(warnings, strict=True)
    assert info.value.exit_code == 2 and "--strict" in info.value.message
    # The prompt alone may carry the opt-out handling.
    assert [w.code for w in check_agent("This is Zara from Acme.",
                                        "If asked to stop calling, label OPT_OUT.")] == []
    assert enforce([], strict=True) == []
