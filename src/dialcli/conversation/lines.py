"""What dialcli itself says on a call, in the agent's language.

The agent's greeting, prompt and voicemail message are the user's own words, in the
language they wrote them. Everything else a callee may hear -- the rule brain's
replies and questions, the goodbyes, the opt-out question, the LLM path's holding
line and the apology when a call fails -- is written here in English and, for an
agent whose ``language`` is Spanish (``es-US``, ``es-MX``...), said in Spanish: a
Spanish greeting followed by "Sorry, I didn't quite catch that" loses the caller.

``say(template, language, **values)``: the template (English, ``{name}`` fields) in
the call's language. A language without its own lines speaks English.
"""

from __future__ import annotations

#: English template -> Spanish (formal "usted", as a business call is made).
ES: dict[str, str] = {
    # questions
    "Would you like me to stop calling this number?":
        "¿Quiere que dejemos de llamar a este número?",
    "Would you like to hear more?": "¿Le gustaría saber más?",
    "When would be a better time to call you back?":
        "¿Cuándo le vendría mejor que le llamemos?",
    "Would you like me to call back at a better time?":
        "¿Quiere que le llamemos en otro momento?",
    "Would you like someone{from_} to follow up with you?":
        "¿Quiere que alguien{from_} se ponga en contacto con usted?",
    "Am I speaking with {name}?": "¿Hablo con {name}?",
    "Am I speaking with the right person?": "¿Hablo con la persona indicada?",
    " from {company}": " de {company}",
    # replies
    "Okay, thank you.": "De acuerdo, gracias.",
    "I'm sorry about the calls. {question}": "Disculpe las llamadas. {question}",
    "Sure, take your time.": "Claro, tómese su tiempo.",
    "Great, thank you.": "Perfecto, gracias.",
    "Great.": "Perfecto.",
    "No pressure.": "Sin compromiso.",
    "Happy to help.": "Con gusto.",
    "That's a good question.": "Buena pregunta.",
    "Of course. When would be a better time to call you back?":
        "Por supuesto. ¿Cuándo le vendría mejor que le llamemos?",
    "No problem. When would be a better time to call you back?":
        "No hay problema. ¿Cuándo le vendría mejor que le llamemos?",
    "No problem. Would you like me to call back at a better time?":
        "No hay problema. ¿Quiere que le llamemos en otro momento?",
    "{lead_in}{purpose} Would you like to hear more?":
        "{lead_in}{purpose} ¿Le gustaría saber más?",
    "{lead_in} I don't have all the details with me, but {who} can walk you through "
    "them. Would you like them to follow up with you?":
        "{lead_in} No tengo todos los detalles a mano, pero {who} puede explicárselos. "
        "¿Quiere que se pongan en contacto con usted?",
    "someone{from_}": "alguien{from_}",
    "someone from our team": "alguien de nuestro equipo",
    "This is {agent}, calling{from_}. {question}": "Le habla {agent}, de parte{from_}. {question}",
    "This is {agent}. {question}": "Le habla {agent}. {question}",
    "I'm calling on behalf of {company}. {question}": "Llamo en nombre de {company}. {question}",
    "I'm trying to reach {lead}. Am I speaking with {first}?":
        "Intento comunicarme con {lead}. ¿Hablo con {first}?",
    "Your number is on {company}'s contact list for this call. If you'd rather not be "
    "called, just say so and I'll take you off the list. {question}":
        "Su número está en la lista de contactos de {company} para esta llamada. Si prefiere "
        "que no le llamemos, dígamelo y le quito de la lista. {question}",
    "Your number is on our contact list for this call. If you'd rather not be called, "
    "just say so and I'll take you off the list. {question}":
        "Su número está en nuestra lista de contactos para esta llamada. Si prefiere que no "
        "le llamemos, dígamelo y le quito de la lista. {question}",
    "I'm an automated assistant calling on behalf of {company}. {question}":
        "Soy un asistente automático que llama en nombre de {company}. {question}",
    "I'm an automated assistant. {question}": "Soy un asistente automático. {question}",
    "I don't have those details with me, I'm afraid. {question}":
        "Me temo que no tengo esos detalles a mano. {question}",
    "I'm not able to answer that, I'm afraid. {question}":
        "Me temo que no puedo responder a eso. {question}",
    "Hi, this is {agent}{from_}. {purpose}{question}":
        "Hola, le habla {agent}{from_}. {purpose}{question}",
    "No pressure. {question}": "Sin compromiso. {question}",
    "Sorry, I didn't quite catch that. {question}":
        "Disculpe, no le he entendido bien. {question}",
    # goodbyes
    "Wonderful! I'll note that you're interested, and {team} will follow up with you. "
    "Thank you, goodbye.":
        "¡Estupendo! Tomo nota de su interés y {team} se pondrá en contacto con usted. "
        "Gracias, adiós.",
    "someone from {company}": "alguien de {company}",
    "No problem, I'll call you back {when}. Thanks, goodbye.":
        "No hay problema, le llamaremos {when}. Gracias, adiós.",
    "No problem, I'll try you again tomorrow. Thanks, goodbye.":
        "No hay problema, le llamaremos mañana. Gracias, adiós.",
    "Understood, I'm sorry to have bothered you. I'll make sure you aren't called again. "
    "Goodbye.":
        "Entendido, disculpe la molestia. Me aseguraré de que no le volvamos a llamar. Adiós.",
    "Oh, I'm sorry about that. I'll update our records. Have a good day. Goodbye.":
        "Disculpe la confusión. Actualizaré nuestros registros. Que tenga un buen día. Adiós.",
    "I understand. Thank you for your time, and have a great day. Goodbye.":
        "Entiendo. Gracias por su tiempo y que tenga un buen día. Adiós.",
    "Thanks for your time. Goodbye.": "Gracias por su tiempo. Adiós.",
    "Goodbye.": "Adiós.",
    # the live path's own lines
    "One moment.": "Un momento.",
    "I'm sorry, I'm having trouble on my end. We'll try you again another time. Goodbye.":
        "Disculpe, tengo un problema técnico. Le llamaremos en otro momento. Adiós.",
}

_BY_LANGUAGE = {"es": ES}


def speaks(language: str | None) -> str:
    """The language of ``say``'s lines for an agent's ``language`` code ('en', 'es')."""
    code = (language or "en").split("-")[0].lower()
    return code if code in _BY_LANGUAGE else "en"


def say(template: str, language: str | None, **values: object) -> str:
    """``template`` (English) in ``language``, its ``{fields}`` filled."""
    lines = _BY_LANGUAGE.get(speaks(language))
    text = lines.get(template, template) if lines is not None else template
    return text.format(**values) if values else text


def every(template: str) -> tuple[str, ...]:
    """``template`` in each language it is said in (to recognise a line already said)."""
    return (template, *(t[template] for t in _BY_LANGUAGE.values() if template in t))
