"""The HTML documents the fake serves; the app itself is static/app.js."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from fakes.photos import i18n

STATIC_VERSION = "12"


def _json_for_script(data: Any) -> str:
    # "</" would end the script element early; "<\/" is the same JSON string.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def app_shell(
    lang: str,
    prefix: str,
    account_label: str,
    init: dict[str, Any],
    title: str = "Photos - Google Photos",
) -> str:
    """The single-page app: grid, albums and viewer are all built by app.js from `init`."""
    labels = i18n.LABELS[lang]
    avatar = escape(init["account"]["name"][:1])
    return f"""<!doctype html>
<html lang="{lang}" dir="ltr">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<base href="{escape(prefix)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/_/static/app.css?v={STATIC_VERSION}">
<script id="wiz_global_data" type="application/json">{_json_for_script(init)}</script>
</head>
<body>
<header class="topbar" role="banner">
 <div class="logo"><span class="logo-mark"></span>Google Photos</div>
 <div class="search" role="search"><input type="text" aria-label="{escape(labels["search"])}"></div>
 <div class="account-area">
  <a class="account" role="button" tabindex="0" href="#"
     aria-label="{escape(account_label)}"><span class="avatar">{avatar}</span></a>
 </div>
</header>
<c-wiz id="app" jsrenderer="PhotosApp"></c-wiz>
<script src="/_/static/app.js?v={STATIC_VERSION}" defer></script>
</body>
</html>
"""


def about_page(lang: str, login_href: str) -> str:
    title = "Google Photos" if lang == "en" else "Google Fotos"
    blurb = (
        "The home for all your photos and videos, automatically organized and easy to share."
        if lang == "en"
        else "Das Zuhause für all deine Fotos und Videos, automatisch organisiert."
    )
    go = "Go to Google Photos" if lang == "en" else "Zu Google Fotos"
    return f"""<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{title}: edit, organize, search, and backup your photos</title>
<link rel="stylesheet" href="/_/static/app.css?v={STATIC_VERSION}"></head>
<body class="about">
<main class="about-main">
 <h1>{title}</h1>
 <p>{blurb}</p>
 <a class="cta" href="{escape(login_href)}">{go}</a>
</main>
</body>
</html>
"""


_SIGNIN_SCRIPT = """<script>
// Google refuses sign-in in a browser driven by automation.
if (navigator.webdriver) {
  document.getElementById('rejected').hidden = false;
  for (const b of document.querySelectorAll('button')) b.disabled = true;
}
</script>"""


def _signin_frame(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="stylesheet" href="/_/static/app.css?v={STATIC_VERSION}"></head>
<body class="signin">
<main class="signin-card">
 <div class="glogo">Google</div>
{body}
 <div id="rejected" class="rejected" hidden>
  <h2>Couldn\u2019t sign you in</h2>
  <p>This browser or app may not be secure.</p>
 </div>
</main>
{_SIGNIN_SCRIPT}
</body>
</html>
"""


def signin_identifier(continue_url: str, email: str = "", error: str | None = None) -> str:
    problem = f'<div class="error" role="alert">{escape(error)}</div>' if error else ""
    body = f""" <h1>Sign in</h1>
 <p>to continue to Google Photos</p>
 <form method="post" action="/v3/signin/identifier" id="identifierForm">
  <input type="hidden" name="continue" value="{escape(continue_url)}">
  <label for="identifierId">Email or phone</label>
  <input type="email" name="identifier" id="identifierId" autocomplete="username"
         value="{escape(email)}" aria-label="Email or phone" autofocus required>
  {problem}
  <div id="identifierNext"><button type="submit">Next</button></div>
 </form>"""
    return _signin_frame("Sign in - Google Accounts", body)


def signin_password(email: str, state_token: str, continue_url: str) -> str:
    body = f""" <h1>Welcome</h1>
 <div class="who">{escape(email)}</div>
 <form method="post" action="/v3/signin/challenge/pwd" id="passwordForm">
  <input type="hidden" name="TL" value="{escape(state_token)}">
  <input type="hidden" name="continue" value="{escape(continue_url)}">
  <label for="password">Enter your password</label>
  <input type="password" name="Passwd" id="password" autocomplete="current-password"
         aria-label="Enter your password" autofocus>
  <div id="passwordNext"><button type="submit">Next</button></div>
 </form>"""
    return _signin_frame("Sign in - Google Accounts", body)


def interstitial(title: str, heading: str, text: str, button: str | None, continue_url: str) -> str:
    """A sign-in page that asks for a person (confirm identity, chooser, passkey, ...)."""
    action = ""
    if button == "Not now":
        action = (
            f' <div id="notNow"><a role="button" href="{escape(continue_url)}">Not now</a></div>'
        )
    elif button:
        action = f' <div id="identifierNext"><button type="button">{escape(button)}</button></div>'
    body = f""" <h1 id="headingText">{escape(heading)}</h1>
 <p id="headingSubtext">{escape(text)}</p>
{action}"""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="stylesheet" href="/_/static/app.css?v={STATIC_VERSION}"></head>
<body class="signin">
<main class="signin-card">
 <div class="glogo">Google</div>
{body}
</main>
</body>
</html>
"""


def storage_page() -> str:
    """Where confirming the storage dialog leads (an upsell, not the app)."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Google One - Get more storage</title>
<link rel="stylesheet" href="/_/static/app.css?v={STATIC_VERSION}"></head>
<body class="about">
<main class="about-main">
 <h1>Get more storage</h1>
 <p>Choose a Google One plan.</p>
</main>
</body>
</html>
"""


def google_error(status: int) -> str:
    """Google's plain error page ("502. That's an error.", with a typographic apostrophe)."""
    texts = {
        404: "The requested URL was not found on this server.",
        500: "There was an error. Please try again later.",
        502: "The server encountered a temporary error and could not complete your request.",
        503: "The service is temporarily unavailable. Please try again in 30 seconds.",
        403: "Your client does not have permission to get this URL from this server.",
        400: "Your client has issued a malformed or illegal request.",
    }
    text = texts.get(status, "")
    apostrophe = "\u2019"  # Google's pages use the typographic one
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Error {status} (Server Error)!!1</title></head>
<body><p><b>{status}.</b> <ins>That{apostrophe}s an error.</ins></p><p>{escape(text)}
<ins>That{apostrophe}s all we know.</ins></p></body></html>
"""
