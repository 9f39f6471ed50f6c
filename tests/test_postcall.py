"""The post-call label from the LLM (conversation.postcall) and the opt-out duties the
rules keep on the LLM path, against the fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from dialcli.clock import VirtualClock
from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.classify import classify_by_rules
from dialcli.conversation.llm import LLMBrain, system_prompt
from dialcli.conversation.postcall import LABEL_SCHEMA, label_call, parse, Unusable
from dialcli.conversation.rules import OPT_OUT_QUESTION
from dialcli.models import Disposition, VoicemailAction
from fakes.fake_llm import fake_llm, garbage, http_error, reply, tool_call  # noqa: F401  (fixture)

TZ = "America/New_York"
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo(TZ))
KEY = "sk-test-postcall-9f8e7d"
CTX = CallContext(
    call_id=5, campaign="spring", agent="Zara", to="+14155550101", from_="+14155550199",
    greeting="Hi Maria, this is Zara from Acme Solar. Do you have a minute?",
    system_prompt="You are Zara from Acme Solar.", voicemail_message="",
    voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez", recipient_tz=TZ,
)
FAST = dict(first_token_s=1.0, total_s=2.5, stall_s=1.0)   # see test_llm_brain.FAST


def label(obj):
    return reply(json.dumps(obj))


def t(*lines):
    """A transcript from alternating agent/caller lines (agent first)."""
    return [{"role": "agent" if i % 2 == 0 else "caller", "text": text} for i, text in enumerate(lines)]


GREET = "Hi Maria, this is Zara from Acme Solar. Do you have a minute?"


def test_the_request_is_schema_constrained_and_the_label_comes_from_the_model(fake_llm):
    fake_llm.enqueue(label({"disposition": "CALLBACK", "summary": "Busy, after lunch.",
                            "callback_at": "2026-03-04T13:30", "opt_out_requested": False}))
    end = label_call(t(GREET, "ugh i'm slammed, maybe after lunch?"), fake_llm.settings(key=KEY),
                     now=NOW, tz=TZ, lead_name="Maria Lopez")
    assert end.disposition is Disposition.CALLBACK
    assert end.callback_at == "2026-03-04T13:30-05:00"      # local, with its offset
    req = fake_llm.chat_requests[0]
    assert req.json["stream"] is False and req.json["temperature"] == 0
    fmt = req.json["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == LABEL_SCHEMA
    assert "Wednesday 2026-03-04 10:00" in req.json["messages"][0]["content"]
    assert "Caller: ugh i'm slammed" in req.json["messages"][1]["content"]
    assert req.headers.get("authorization") == f"Bearer {KEY}"
    assert KEY not in json.dumps(req.json)


def test_either_side_saying_opt_out_makes_it_one(fake_llm):
    # The rules hear an opt-out: settled, whatever a model would say.
    end = label_call(t(GREET, "i'm gonna report you to the ftc"), fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.OPT_OUT
    assert fake_llm.chat_requests == []       # no request needed
    # The model ignores its instructions (a revocation labelled a decline), but says
    # the caller asked not to be called: opt-out.
    # The rules see nothing, the model hears a revocation: opt-out too.
    fake_llm.enqueue(label({"disposition": "NOT_INTERESTED", "summary": "Wants no more calls.",
                            "callback_at": None, "opt_out_requested": True}))
    end = label_call(t(GREET, "you people are relentless honestly, i'm done with this"),
                     fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.OPT_OUT


def test_a_model_that_ignores_the_schema_falls_back_to_the_rules(fake_llm):
    fake_llm.enqueue(reply("Sure! The caller seemed keen, I'd say interested."))
    end = label_call(t(GREET, "call me tomorrow at 3"), fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.CALLBACK and end.callback_text == "call me tomorrow at 3"
    fake_llm.enqueue(label({"disposition": "MAYBE_LATER", "summary": "?", "callback_at": None,
                            "opt_out_requested": False}))
    end = label_call(t(GREET, "no thanks not interested"), fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.NOT_INTERESTED
    fake_llm.enqueue(http_error(500))
    end = label_call(t(GREET, "wrong number"), fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.WRONG_NUMBER


def test_a_server_without_json_schema_is_asked_for_a_json_object(fake_llm):
    fake_llm.enqueue(http_error(400, "response_format json_schema is not supported"),
                     label({"disposition": "NOT_INTERESTED", "summary": "Declined.",
                            "callback_at": None, "opt_out_requested": False}))
    end = label_call(t(GREET, "hard pass"), fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.NOT_INTERESTED
    assert [r.json["response_format"]["type"] for r in fake_llm.chat_requests] == \
        ["json_schema", "json_object"]


@pytest.mark.parametrize("when, expect_at, expect_text", [
    ("2026-03-04T09:00", None, None),                 # passed already: not believed
    ("2031-01-01T10:00", None, None),                 # too far ahead
    ("2026-02-30T10:00", None, None),                 # no such day
    ("tomorrow after lunch", None, "tomorrow after lunch"),
    ("2026-03-05T15:00-05:00", "2026-03-05T15:00-05:00", None),
    ("2026-03-08T02:30", "2026-03-08T03:30-04:00", None),   # inside the DST gap: moved on
])
def test_callback_times_from_the_model_are_checked(when, expect_at, expect_text):
    end = parse({"disposition": "CALLBACK", "summary": "x", "callback_at": when,
                 "opt_out_requested": False}, now=NOW, tz=TZ)
    assert end.callback_at == expect_at and end.callback_text == expect_text


def test_a_callback_without_a_usable_time_takes_the_callers_words(fake_llm):
    fake_llm.enqueue(label({"disposition": "CALLBACK", "summary": "Busy.",
                            "callback_at": "2020-01-01T10:00", "opt_out_requested": False}))
    end = label_call(t(GREET, "i'm driving", "When would be a better time?", "friday morning"),
                     fake_llm.settings(), now=NOW, tz=TZ)
    assert end.disposition is Disposition.CALLBACK and end.callback_text == "friday morning"


def test_an_answer_in_a_code_fence_with_an_offset_time_and_no_key(fake_llm):
    fake_llm.enqueue(reply('```json\n{"disposition": "callback", "summary": "x", '
                           '"callback_at": "2026-03-10T10:00:00-05:00", "opt_out_requested": false}\n```'))
    with httpx.Client() as http:
        end = label_call(t(GREET, "call me next week"), fake_llm.settings(), now=NOW, tz=TZ, http=http)
    assert end.disposition is Disposition.CALLBACK and end.callback_at == "2026-03-10T10:00-05:00"
    assert "authorization" not in fake_llm.chat_requests[0].headers


@pytest.mark.parametrize("script", [
    http_error(401, f"Incorrect API key provided: {KEY}"), garbage("not json at all"),
    reply("[1, 2]"), reply('{"disposition": "INTERESTED", "summary": "x"}', first_delay=2.0),
])
def test_failures_fall_back_to_the_rules_and_never_log_the_key(fake_llm, script, caplog):
    fake_llm.enqueue(script)
    convo = t(GREET, "Hmm, maybe. Tell me more.", "Would you like someone to follow up?",
              "I guess, yeah, have them call me next week.")
    end = label_call(convo, fake_llm.settings(key=KEY), now=NOW, tz=TZ, timeout=0.3)
    assert end == classify_by_rules(convo)
    assert end.disposition is Disposition.CALLBACK
    assert KEY not in caplog.text


def test_a_silent_call_does_not_ask_the_model(fake_llm):
    assert label_call([{"role": "agent", "text": GREET}], fake_llm.settings(), now=NOW, tz=TZ) is None
    assert fake_llm.chat_requests == []


@pytest.mark.parametrize("bad", ["", "[1, 2]", '{"summary": "x"}', "not json at all"])
def test_unusable_answers(bad):
    with pytest.raises(Unusable):
        parse(bad)


# ---------------------------------------------------------------- the LLM session

@pytest.fixture
def brain(fake_llm):
    b = LLMBrain(fake_llm.settings(), clock=VirtualClock(NOW), **FAST)
    yield b
    b.close()


def test_a_hang_up_is_labelled_by_the_model_after_the_call(fake_llm, brain):
    s = brain.open(CTX)
    s.opening()
    fake_llm.enqueue(reply("Sure, what time works?"),
                     label({"disposition": "CALLBACK", "summary": "Busy; after lunch.",
                            "callback_at": "2026-03-04T13:00", "opt_out_requested": False}))
    collect(s.respond("busy now, later maybe"))
    end = s.finish()
    assert end.disposition is Disposition.CALLBACK and end.callback_at == "2026-03-04T13:00-05:00"
    assert fake_llm.chat_requests[-1].json["response_format"]["type"] == "json_schema"


def test_the_guard_asks_whether_to_stop_and_a_yes_opts_out_without_the_model(fake_llm, brain):
    s = brain.open(CTX)
    s.opening()
    text, end = collect(s.respond("why do you keep calling me"))
    assert end is None and text.endswith(OPT_OUT_QUESTION)
    text, end = collect(s.respond("yeah"))
    assert end.disposition is Disposition.OPT_OUT
    assert fake_llm.chat_requests == []      # neither turn went to the model


def test_a_yes_to_the_models_own_opt_out_question_is_one_whatever_label_it_picks(fake_llm, brain):
    s = brain.open(CTX)
    s.opening()
    # The model asks in its own words, then ignores the answer and calls it interest.
    fake_llm.enqueue(reply("Sorry about that. Should I take you off our list?"),
                     tool_call("INTERESTED", "Keen!", text=["Great, someone will call you."]))
    # (A line the rule guard lets through: "you guys are relentless" now gets the
    # guard's own question before the model is asked.)
    collect(s.respond("you guys again huh"))
    _, end = collect(s.respond("yes please"))
    assert end.disposition is Disposition.OPT_OUT
    assert len(fake_llm.chat_requests) == 2


def test_the_system_prompt_states_the_duties():
    prompt = system_prompt(CTX)
    assert "OPT_OUT" in prompt and "no me" in prompt and OPT_OUT_QUESTION in prompt
    assert "WRONG_NUMBER" in prompt and "passed away" in prompt
    assert "CALLBACK" in prompt and "never a callback time" in prompt
