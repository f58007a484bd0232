"""Script-injection payloads for the hostile-input suite.

Written for this suite from the OWASP XSS Filter Evasion and XSS Prevention cheat sheets, the HTML
parsing quirks browsers share (mutation XSS through foreign content, raw-text elements, comments,
entity and whitespace tricks in URL schemes) and context breakouts for the places our templates put
text (attributes, <title>, JSON in <script>, meta tags). Each payload, if it ever runs, calls
__xss(n) (or alert(n)) with its own number, so a failure names the payload.
"""

import base64

TEMPLATES = [
    "<script>{js}</script>",
    "<img src=x onerror={js}>",
    '<img src="x" onerror="{js}">',
    "<img/src=x/onerror={js}>",
    "<img src=`x`onerror={js}>",
    "<img src=x:x onerror={js}>",
    '<img src="/media/none.png" alt="&quot; onerror=&quot;{js}">',
    "<svg onload={js}>",
    "<svg/onload={js}>",
    "<svg><script>{js}</script></svg>",
    "<svg><animate onbegin={js} attributeName=x dur=1s>",
    '<svg><a xlink:href="javascript:{js}"><text x=20 y=20>x</text></a></svg>',
    '<svg><set attributeName=href to="javascript:{js}"/></svg>',
    '<svg><foreignObject><iframe srcdoc="<script>parent.{js}</script>"></iframe></foreignObject></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror={js}></style></mglyph></table></mtext></math>",
    '<math href="javascript:{js}">x</math>',
    '<noscript><p title="</noscript><img src=x onerror={js}>">',
    "<style><img src=x onerror={js}></style>",
    "<title><img src=x onerror={js}></title>",
    "<textarea><img src=x onerror={js}></textarea>",
    "<xmp><img src=x onerror={js}></xmp>",
    "<!--><img src=x onerror={js}>-->",
    "<![CDATA[><img src=x onerror={js}>]]>",
    "<body onload={js}>",
    "<body onpageshow={js}>",
    '<iframe src="javascript:{js}"></iframe>',
    '<iframe srcdoc="<script>parent.{js}</script>"></iframe>',
    "<iframe src=x onload={js}></iframe>",
    '<a href="javascript:{js}">link</a>',
    '<a href="JaVaScRiPt:{js}">link</a>',
    '<a href=" javascript:{js}">link</a>',
    '<a href="java&#x09;script:{js}">link</a>',
    '<a href="java\nscript:{js}">link</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{js}">link</a>',
    '<a href="javascript&colon;{js}">link</a>',
    '<a href="&#1;javascript:{js}">link</a>',
    '<a href="vbscript:{js}">link</a>',
    '<a href="data:text/html,&lt;script&gt;{js}&lt;/script&gt;">link</a>',
    '<blockquote cite="javascript:{js}"><p>quoted</p></blockquote>',
    '<q cite="javascript:{js}">quoted</q>',
    '<a href="https://example.org/" title="x&quot; onmouseover=&quot;{js}">link</a>',
    '<a href="https://example.org/" onmouseover="{js}">hover me</a>',
    "<p onclick={js}>click me</p>",
    "<div onmouseover={js}>hover me</div>",
    "<details open ontoggle={js}>",
    "<input autofocus onfocus={js}>",
    "<select autofocus onfocus={js}></select>",
    "<textarea autofocus onfocus={js}></textarea>",
    "<div tabindex=1 onfocusin={js} id=f>focus</div>",
    "<marquee onstart={js}>x</marquee>",
    "<video><source onerror={js}></video>",
    "<audio src=x onerror={js}></audio>",
    "<picture><source srcset=x><img onerror={js}></picture>",
    '<img srcset="x" onerror={js}>',
    '<object data="javascript:{js}"></object>',
    '<object data="data:text/html,&lt;script&gt;parent.{js}&lt;/script&gt;"></object>',
    '<embed src="javascript:{js}">',
    '<link rel=stylesheet href="javascript:{js}">',
    '<meta http-equiv="refresh" content="0;url=javascript:{js}">',
    '<base href="javascript:{js}//">',
    '<form action="javascript:{js}"><button>go</button></form>',
    '<button formaction="javascript:{js}">go</button>',
    '<table background="javascript:{js}"><tr><td>x</td></tr></table>',
    '<div style="background-image:url(javascript:{js})">x</div>',
    '<div style="width:expression({js})">x</div>',
    "<style>@import 'javascript:{js}';</style>",
    "<SCRIPT SRC=data:text/javascript,{js}></SCRIPT>",
    '<script src="data:,{js}"></script>',
    "<scr<script>ipt>{js}</scr</script>ipt>",
    "<<script>{js};//<</script>",
    "<img src=x onerror={js}//",
    '"><script>{js}</script>',
    "'><img src=x onerror={js}>",
    "</textarea><script>{js}</script>",
    "</title><script>{js}</script>",
    "</script><script>{js}</script>",
    "</style><script>{js}</script>",
    "<img src=x onerror=eval(atob('{b64}'))>",
    "<img src=x onerror=&#95;&#95;xss({n})>",
    "<svg><script>&#95;&#95;xss({n})</script></svg>",
    "<isindex action=javascript:{js} type=image>",
    "\u003cscript\u003e{js}\u003c/script\u003e",
]

# Values for fields that hold a URL (card URLs, og:url, canonical links, image addresses).
URL_TEMPLATES = [
    "javascript:{js}",
    " JavaScript:{js}",
    "data:text/html;base64,{b64html}",
    "vbscript:{js}",
    "java\tscript:{js}",
]


def js(n):
    # A few call alert(), caught by the dialog handler; the rest call the page's marker.
    return f"alert({n})" if n % 7 == 0 else f"__xss({n})"


def fill(template, n):
    call = js(n)
    return template.format(
        js=call,
        n=n,
        b64=base64.b64encode(call.encode()).decode(),
        b64html=base64.b64encode(f"<script>{call}</script>".encode()).decode(),
    )


PAYLOADS = [fill(template, n) for n, template in enumerate(TEMPLATES, start=1)]
URL_PAYLOADS = [fill(template, n) for n, template in enumerate(URL_TEMPLATES, start=len(TEMPLATES) + 1)]
