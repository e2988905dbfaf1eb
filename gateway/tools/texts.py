"""What the built-in tools say, in the languages they have translations for. A person's
language is their `/lang` choice, else what their platform says, else English."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "de", "es", "fr")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "assistant.apology": "Sorry, I cannot answer right now. Please try again in a moment.",
        "assistant.busy": "You are writing faster than I can think: please wait a minute.",
        "assistant.budget": (
            "I have used up today's thinking for this bot; I answer "
            "again tomorrow."
        ),
        "describe.help": "list what I can do",
        "describe.kb": "search the knowledge base",
        "describe.remember": "keep a note about you, or list them",
        "describe.forget": "forget a note (N) or all of them",
        "describe.link": "link this account to yours on another platform",
        "describe.unlink": "unlink this account again",
        "describe.lang": "choose the language I answer in",
        "help.intro": "Here is what I can do:",
        "help.session": "In this conversation also:",
        "apology": "Sorry, /{tool} is not working right now. Please try again in a moment.",
        "too_long": "That is too long for /{tool}: at most {limit} characters, please.",
        "notes.kept": "Noted. I keep {count} note(s) about you; /remember lists them.",
        "notes.none": "I keep no notes about you yet. Tell me one with /remember TEXT.",
        "notes.list": "What I remember about you:",
        "notes.full": "I keep at most {limit} notes about you; /forget one first.",
        "notes.note_too_long": "A note can be at most {limit} characters.",
        "notes.forgot": "Forgotten: {text}",
        "notes.forgot_all": "I forgot all {count} note(s) about you.",
        "notes.which": "Which one? /forget N (see /remember for the numbers) or /forget all.",
        "link.code": (
            "Your code is {code}. Within 10 minutes, send /link {code} to a bot of ours on "
            "the other platform to join the two accounts. Do not share it."
        ),
        "link.joined": "Done: this account is now linked to your other one.",
        "link.already": "This account is already linked to that one.",
        "link.refused": "That code is wrong, used or expired; nothing was changed.",
        "link.locked": "Too many wrong codes: please try again in an hour.",
        "unlink.done": "This account is unlinked; it starts afresh with me.",
        "unlink.alone": "This account is not linked to another one.",
        "lang.set": "From now on I answer you in English.",
        "lang.current": "I answer you in {name}. Choose another with /lang CODE ({codes}).",
        "lang.unknown": "I don't speak {name} yet. I can: {codes}.",
        "no_person": "I cannot do that here: I don't know who you are in this chat.",
    },
    "de": {
        "assistant.apology": (
            "Entschuldigung, ich kann gerade nicht antworten. Bitte versuche es gleich noch einmal."
        ),
        "assistant.busy": "Du schreibst schneller, als ich denken kann: bitte warte eine Minute.",
        "assistant.budget": (
            "Mein Kontingent für heute ist aufgebraucht; morgen antworte "
            "ich wieder."
        ),
        "describe.help": "zeigt, was ich kann",
        "describe.kb": "durchsucht die Wissensdatenbank",
        "describe.remember": "merkt sich etwas über dich oder zeigt es",
        "describe.forget": "vergisst eine Notiz (N) oder alle",
        "describe.link": "verbindet dieses Konto mit deinem auf einer anderen Plattform",
        "describe.unlink": "trennt dieses Konto wieder",
        "describe.lang": "wählt die Sprache, in der ich antworte",
        "help.intro": "Das kann ich für dich tun:",
        "help.session": "In diesem Gespräch außerdem:",
        "apology": (
            "Entschuldigung, /{tool} funktioniert gerade nicht. Bitte versuche es gleich noch "
            "einmal."
        ),
        "too_long": "Das ist zu lang für /{tool}: höchstens {limit} Zeichen, bitte.",
        "notes.kept": "Notiert. Ich habe {count} Notiz(en) über dich; /remember zeigt sie.",
        "notes.none": "Ich habe noch keine Notizen über dich. Schreib mir eine mit /remember.",
        "notes.list": "Das weiß ich über dich:",
        "notes.full": "Ich behalte höchstens {limit} Notizen über dich; lösche zuerst eine.",
        "notes.note_too_long": "Eine Notiz darf höchstens {limit} Zeichen lang sein.",
        "notes.forgot": "Vergessen: {text}",
        "notes.forgot_all": "Ich habe alle {count} Notiz(en) über dich vergessen.",
        "notes.which": "Welche? /forget N (Nummern siehe /remember) oder /forget all.",
        "link.code": (
            "Dein Code ist {code}. Sende innerhalb von 10 Minuten /link {code} an einen "
            "unserer Bots auf der anderen Plattform, um beide Konten zu verbinden. Gib ihn "
            "nicht weiter."
        ),
        "link.joined": "Erledigt: dieses Konto ist jetzt mit deinem anderen verbunden.",
        "link.already": "Dieses Konto ist schon mit jenem verbunden.",
        "link.refused": "Der Code ist falsch, benutzt oder abgelaufen; nichts wurde geändert.",
        "link.locked": "Zu viele falsche Codes: bitte versuche es in einer Stunde wieder.",
        "unlink.done": "Dieses Konto ist getrennt und beginnt bei mir von vorn.",
        "unlink.alone": "Dieses Konto ist mit keinem anderen verbunden.",
        "lang.set": "Ab jetzt antworte ich dir auf Deutsch.",
        "lang.current": "Ich antworte dir auf {name}. Eine andere: /lang CODE ({codes}).",
        "lang.unknown": "{name} spreche ich noch nicht. Ich kann: {codes}.",
        "no_person": "Das geht hier nicht: ich weiß nicht, wer du in diesem Chat bist.",
    },
    "es": {
        "assistant.apology": (
            "Lo siento, ahora no puedo responder. Inténtalo de nuevo en "
            "un momento."
        ),
        "assistant.busy": (
            "Escribes más rápido de lo que puedo pensar: espera un "
            "minuto, por favor."
        ),
        "assistant.budget": "He agotado mi cupo de hoy; vuelvo a responder mañana.",
        "describe.help": "muestra lo que puedo hacer",
        "describe.kb": "busca en la base de conocimiento",
        "describe.remember": "guarda una nota sobre ti o las muestra",
        "describe.forget": "olvida una nota (N) o todas",
        "describe.link": "une esta cuenta con la tuya en otra plataforma",
        "describe.unlink": "separa de nuevo esta cuenta",
        "describe.lang": "elige el idioma en que respondo",
        "help.intro": "Esto es lo que puedo hacer:",
        "help.session": "En esta conversación, además:",
        "apology": "Lo siento, /{tool} no funciona ahora. Inténtalo de nuevo en un momento.",
        "too_long": "Es demasiado largo para /{tool}: como máximo {limit} caracteres.",
        "notes.kept": "Anotado. Guardo {count} nota(s) sobre ti; /remember las muestra.",
        "notes.none": "Aún no guardo notas sobre ti. Dame una con /remember TEXTO.",
        "notes.list": "Lo que recuerdo de ti:",
        "notes.full": "Guardo como máximo {limit} notas sobre ti; borra una antes.",
        "notes.note_too_long": "Una nota puede tener como máximo {limit} caracteres.",
        "notes.forgot": "Olvidado: {text}",
        "notes.forgot_all": "He olvidado las {count} nota(s) sobre ti.",
        "notes.which": "¿Cuál? /forget N (los números en /remember) o /forget all.",
        "link.code": (
            "Tu código es {code}. En 10 minutos, envía /link {code} a uno de nuestros bots en "
            "la otra plataforma para unir las dos cuentas. No lo compartas."
        ),
        "link.joined": "Hecho: esta cuenta está unida a la otra.",
        "link.already": "Esta cuenta ya está unida a esa.",
        "link.refused": "El código es incorrecto, ya usado o caducado; no se cambió nada.",
        "link.locked": "Demasiados códigos incorrectos: inténtalo de nuevo en una hora.",
        "unlink.done": "Esta cuenta está separada y empieza de nuevo conmigo.",
        "unlink.alone": "Esta cuenta no está unida a otra.",
        "lang.set": "A partir de ahora te respondo en español.",
        "lang.current": "Te respondo en {name}. Elige otro con /lang CÓDIGO ({codes}).",
        "lang.unknown": "Todavía no hablo {name}. Puedo: {codes}.",
        "no_person": "No puedo hacerlo aquí: no sé quién eres en este chat.",
    },
    "fr": {
        "assistant.apology": (
            "Désolé, je ne peux pas répondre pour l'instant. Réessayez "
            "dans un moment."
        ),
        "assistant.busy": (
            "Vous écrivez plus vite que je ne pense : attendez une "
            "minute, s'il vous plaît."
        ),
        "assistant.budget": "J'ai épuisé mon quota du jour ; je réponds de nouveau demain.",
        "describe.help": "montre ce que je sais faire",
        "describe.kb": "cherche dans la base de connaissances",
        "describe.remember": "garde une note sur vous, ou les montre",
        "describe.forget": "oublie une note (N) ou toutes",
        "describe.link": "relie ce compte au vôtre sur une autre plateforme",
        "describe.unlink": "sépare de nouveau ce compte",
        "describe.lang": "choisit la langue de mes réponses",
        "help.intro": "Voici ce que je sais faire :",
        "help.session": "Dans cette conversation, aussi :",
        "apology": "Désolé, /{tool} ne fonctionne pas pour l'instant. Réessayez dans un moment.",
        "too_long": "C'est trop long pour /{tool} : {limit} caractères au plus, s'il vous plaît.",
        "notes.kept": "C'est noté. Je garde {count} note(s) sur vous ; /remember les montre.",
        "notes.none": "Je ne garde encore aucune note sur vous. Donnez-m'en une : /remember.",
        "notes.list": "Ce que je sais de vous :",
        "notes.full": "Je garde au plus {limit} notes sur vous ; oubliez-en une d'abord.",
        "notes.note_too_long": "Une note fait au plus {limit} caractères.",
        "notes.forgot": "Oublié : {text}",
        "notes.forgot_all": "J'ai oublié les {count} note(s) sur vous.",
        "notes.which": "Laquelle ? /forget N (numéros dans /remember) ou /forget all.",
        "link.code": (
            "Votre code est {code}. Dans les 10 minutes, envoyez /link {code} à l'un de nos "
            "bots sur l'autre plateforme pour relier les deux comptes. Ne le partagez pas."
        ),
        "link.joined": "C'est fait : ce compte est relié à votre autre compte.",
        "link.already": "Ce compte est déjà relié à celui-là.",
        "link.refused": "Ce code est faux, déjà utilisé ou expiré ; rien n'a changé.",
        "link.locked": "Trop de codes faux : réessayez dans une heure.",
        "unlink.done": "Ce compte est séparé et repart de zéro avec moi.",
        "unlink.alone": "Ce compte n'est relié à aucun autre.",
        "lang.set": "Désormais je vous réponds en français.",
        "lang.current": "Je vous réponds en {name}. Un autre : /lang CODE ({codes}).",
        "lang.unknown": "Je ne parle pas encore {name}. Je sais : {codes}.",
        "no_person": "Impossible ici : je ne sais pas qui vous êtes dans ce chat.",
    },
}
NAMES = {"en": "English", "de": "Deutsch", "es": "español", "fr": "français"}


def say(language: str, key: str, **values: Any) -> str:
    """The text under `key` in `language` (English where it has no translation)."""
    texts = TEXTS.get(language, TEXTS["en"])
    return texts.get(key, TEXTS["en"][key]).format(**values)


def describe(language: str, tool: str, default: str) -> str:
    """A built-in tool's description in `language`; another tool's own description."""
    texts = TEXTS.get(language, TEXTS["en"])
    return texts.get(f"describe.{tool}", TEXTS["en"].get(f"describe.{tool}", default))


def language_of(chosen: str | None, locale: str | None) -> str:
    """The language to answer in: the person's choice, else their platform's, else English."""
    for candidate in (chosen, locale):
        code = (candidate or "").split("-")[0].split("_")[0].lower()
        if code in TEXTS:
            return code
    return "en"
