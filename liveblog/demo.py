"""The demo newsroom: an invented storm over an invented coast, drawn and written here.

Everything goes in through the importer (liveblog.columnfile), like an archive
from another system would, so the demo also exercises that path. Nothing here
is downloaded: the pictures are drawn with Pillow.
"""

import io
import json
import math
import random
from datetime import timedelta
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

SERIES = {"title": "Storm Isolde", "slug": "storm-isolde"}
ENDED_SLUG = "storm-isolde-landfall"
LIVE_SLUG = "storm-isolde-clean-up"
AUTHORS = {
    "Maya Okafor": "Maya covers the coast and its weather from the Port Kerrow newsroom.",
    "Jonas Brandt": "Jonas reports on transport and local government.",
}


# Pictures ----------------------------------------------------------------------------------


def font(size):
    return ImageFont.load_default(size=size)


def sky(draw, width, height, top, bottom):
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))


def waves(draw, width, top, height, colour, seed):
    rng = random.Random(seed)  # noqa: S311  drawing, not secrets
    draw.rectangle([0, top, width, top + height], fill=colour)
    for row in range(top + 8, top + height, 14):
        phase = rng.random() * 6
        points = [(x, row + 5 * math.sin(x / 38 + phase)) for x in range(0, width + 10, 10)]
        draw.line(points, fill=tuple(min(255, c + 45) for c in colour), width=2)


def header_photo(seed, dark=False):
    width, height = 1600, 700
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    sky(draw, width, 470, (52, 61, 77) if dark else (86, 104, 124), (150, 160, 168) if dark else (196, 202, 205))
    rng = random.Random(seed)  # noqa: S311  drawing, not secrets
    for _ in range(14):  # heavy clouds
        x, y, r = rng.randint(-100, width), rng.randint(-60, 200), rng.randint(120, 260)
        shade = rng.randint(60, 95) if dark else rng.randint(105, 140)
        draw.ellipse([x - r, y - r // 2, x + r, y + r // 2], fill=(shade, shade + 6, shade + 14))
    # The headland and its lighthouse.
    draw.polygon([(980, 470), (1150, 360), (1330, 330), (1600, 350), (1600, 470)], fill=(38, 44, 40))
    draw.polygon([(1238, 340), (1262, 340), (1256, 230), (1244, 230)], fill=(236, 232, 222))
    draw.rectangle([1236, 270, 1264, 285], fill=(178, 34, 34))
    draw.rectangle([1240, 214, 1260, 232], fill=(255, 222, 120))
    draw.polygon([(1260, 218), (1600, 150), (1600, 260)], fill=(214, 210, 180) if not dark else (120, 118, 100))
    waves(draw, width, 470, 230, (40, 72, 92) if dark else (52, 92, 112), seed)
    if dark:
        for _ in range(500):  # rain
            x, y = rng.randint(0, width), rng.randint(0, height)
            draw.line([(x, y), (x - 8, y + 26)], fill=(180, 190, 200), width=1)
    return image


def card_picture(kind, seed):
    width, height = 800, 500
    image = Image.new("RGB", (width, height), (244, 241, 234))
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)  # noqa: S311  drawing, not secrets
    if kind == "river":
        draw.rectangle([0, 0, width, height], fill=(236, 243, 248))
        for y in range(80, 440, 60):
            draw.line([(70, y), (760, y)], fill=(200, 212, 222))
        levels = [3.1, 3.3, 3.6, 4.2, 4.9, 5.6, 6.1, 6.4, 6.5, 6.4]
        points = [(80 + i * 75, 440 - (v - 2.5) * 85) for i, v in enumerate(levels)]
        draw.line([(70, 440 - 3.4 * 85), (760, 440 - 3.4 * 85)], fill=(200, 60, 50), width=3)
        draw.line(points, fill=(20, 80, 150), width=6)
        for x, y in points:
            draw.ellipse([x - 7, y - 7, x + 7, y + 7], fill=(20, 80, 150))
        draw.text((80, 24), "Kerrow at Mill Bridge, metres", font=font(30), fill=(30, 40, 50))
        draw.text((560, 440 - 3.4 * 85 - 36), "flood level", font=font(24), fill=(200, 60, 50))
    elif kind == "ferry":
        sky(draw, width, 300, (120, 136, 150), (200, 206, 210))
        waves(draw, width, 300, 200, (50, 90, 110), seed)
        draw.polygon([(220, 300), (600, 300), (560, 350), (260, 350)], fill=(236, 236, 236))
        draw.rectangle([300, 240, 520, 300], fill=(250, 250, 250))
        draw.rectangle([420, 200, 460, 240], fill=(190, 40, 40))
        for x in range(315, 510, 30):
            draw.rectangle([x, 255, x + 16, 270], fill=(60, 80, 100))
    elif kind == "grid":
        draw.rectangle([0, 0, width, height], fill=(28, 34, 44))
        for _ in range(260):
            x, y = rng.randint(20, width - 20), rng.randint(20, height - 20)
            on = rng.random() < 0.8
            colour = (255, 204, 90) if on else (90, 100, 112)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        draw.text((24, 20), "Homes with power", font=font(30), fill=(255, 255, 255))
    elif kind == "rail":
        sky(draw, width, 230, (150, 176, 200), (222, 230, 236))
        draw.polygon(
            [(0, 230), (220, 170), (470, 215), (640, 160), (800, 200), (800, 500), (0, 500)], fill=(112, 140, 92)
        )
        horizon = 215
        for n in range(1, 16):  # sleepers, closer together towards the horizon
            y = horizon + (500 - horizon) * (n / 15) ** 2
            half = 230 * (y - horizon) / (500 - horizon)
            draw.line([(400 - half * 1.15, y), (400 + half * 1.15, y)], fill=(104, 78, 52), width=max(2, int(n / 2)))
        for side in (-1, 1):
            draw.line([(400, horizon), (400 + side * 230, 500)], fill=(70, 70, 74), width=6)
        draw.rectangle([376, 166, 424, 214], fill=(232, 196, 40))  # a train coming
        draw.rectangle([384, 174, 416, 190], fill=(40, 52, 64))
        draw.text((24, 20), "Port Kerrow - Aldbury", font=font(30), fill=(30, 40, 50))
    else:  # weather map
        draw.rectangle([0, 0, width, height], fill=(226, 236, 228))
        draw.polygon([(0, 220), (180, 160), (330, 230), (420, 180), (560, 250), (800, 210), (800, 500), (0, 500)],
                     fill=(206, 222, 196))  # fmt: skip
        for r in range(40, 420, 55):
            draw.ellipse([260 - r, 170 - r, 260 + r, 170 + r], outline=(60, 70, 90), width=2)
        draw.text((238, 140), "L", font=font(60), fill=(190, 40, 40))
        draw.text((24, 440), "Pressure tonight", font=font(28), fill=(30, 40, 50))
    return image


def portrait(initials, colour):
    image = Image.new("RGB", (400, 400), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse([120, 70, 280, 230], fill=(250, 236, 220))
    draw.ellipse([60, 250, 340, 520], fill=(250, 236, 220))
    draw.text((200, 360), initials, font=font(70), fill=colour, anchor="mm")
    return image


def jpeg(image):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


# Words -------------------------------------------------------------------------------------


PICTURE_DESCRIPTIONS = {
    "river": "A chart of the river level at Mill Bridge rising above the flood line",
    "ferry": "A ferry moored in grey, choppy water",
    "grid": "A night map of homes, most lit and some dark",
    "rail": "A railway line running towards a train between green hills",
    "weather": "A weather map with a low-pressure centre off the coast",
}


def card(url, title, summary, site, picture):
    return {
        "url": url,
        "title": title,
        "summary": summary,
        "site_name": site,
        "image": f"images/{picture}.jpg",
        "image_alt": PICTURE_DESCRIPTIONS[picture],
    }


def para(*texts):
    return "".join(f"<p>{t}</p>" for t in texts)


def ended_posts():
    maya, jonas = "Maya Okafor", "Jonas Brandt"
    return [
        ("landfall-1", 60 * 14, "Red warning for wind across the Kerrow coast", [maya], False, True, para(
            "The weather service has raised its warning to red for the whole coast from this evening until "
            "tomorrow morning.",
            "Gusts of 130 km/h are possible on exposed headlands. People are asked not to travel unless they must.",
        ), []),
        ("landfall-2", 60 * 12, "Harbour wall overtopped at high tide", [jonas], False, False, para(
            "Waves broke over the old harbour wall shortly after high tide. The promenade is closed from the "
            "lifeboat station to the fish market.",
            "<blockquote><p>We have never had the spray this far up Quay Street.</p></blockquote>",
            "A café owner on the quay, who has kept the shutters down since noon.",
        ), []),
        ("landfall-3", 60 * 9, "Isolde makes landfall near Scarrow Point", [maya], False, True, para(
            "The centre of the storm crossed the coast near Scarrow Point in the last hour, the weather service says.",
            "https://weather.example/isolde/landfall",
            "Winds are expected to ease slowly after midnight, but heavy rain will continue into tomorrow.",
        ), [card("https://weather.example/isolde/landfall", "Storm Isolde crosses the coast",
                 "Track, wind speeds and rainfall totals as the storm moved inland.", "Weather Service", "weather")]),
        ("landfall-4", 60 * 7, "That's all from us tonight", [jonas, maya], False, False, para(
            "We are closing this page for tonight. Our coverage continues tomorrow morning in a new column.",
            "Thank you for reading, and stay indoors.",
        ), []),
    ]  # fmt: skip


def live_posts():
    maya, jonas = "Maya Okafor", "Jonas Brandt"
    return [
        ("cleanup-1", 300, "Good morning: where things stand", [maya], True, False, para(
            "Storm Isolde has moved inland and the wind has dropped, but the Kerrow river is still rising.",
            "<strong>The main points this morning:</strong>",
        ) + "<ul><li>Flood warnings on the lower Kerrow until this evening</li>"
            "<li>Ferries to the islands stay in port</li>"
            "<li>About 4,000 homes still without power</li>"
            "<li>Schools in the lower town are closed</li></ul>", []),
        ("cleanup-2", 270, "Kerrow river expected to peak within hours", [maya], False, True, para(
            "The river agency expects the Kerrow to peak at about 6.5 metres at Mill Bridge in the next few hours, "
            "more than three metres above its usual level.",
            "https://rivers.example/kerrow/mill-bridge",
            "Residents of Mill Lane and the lower end of Weaver Street have been asked to move valuables upstairs.",
        ), [card("https://rivers.example/kerrow/mill-bridge", "Kerrow at Mill Bridge: live river level",
                 "Readings every fifteen minutes from the gauge under Mill Bridge.", "River Agency", "river")]),
        ("cleanup-3", 240, "Ferries to the islands remain suspended", [jonas], False, False, para(
            "The island ferry company says no sailings will leave Port Kerrow before tomorrow morning at the "
            "earliest. Swell in the sound is still above four metres.",
            "https://ferries.example/service-updates",
        ), [card("https://ferries.example/service-updates", "Service updates",
                 "All sailings between Port Kerrow and the islands are cancelled today.", "Island Ferries",
                 "ferry")]),
        ("cleanup-4", 200, "Volunteers fill sandbags at the harbour", [maya], False, False, para(
            "Dozens of people have turned up at the harbour car park, where the council has left a lorry of sand.",
            "<blockquote><p>My neighbour brought a flask of tea and now there are forty of us.</p></blockquote>",
            "Sandbags are being taken to Weaver Street by the lifeboat crew's tractor.",
        ), []),
        ("cleanup-5", 160, "Power back for 9,000 homes", [jonas], False, True, para(
            "The grid operator says engineers have reconnected 9,000 homes overnight. About 4,000 are still "
            "waiting, most of them in the hill villages north of the town.",
            "https://grid.example/outages/kerrow",
            "Customers who rely on powered medical equipment can call the priority line for a generator.",
        ), [card("https://grid.example/outages/kerrow", "Power cuts near you",
                 "A map of outages and estimated times to reconnect, updated hourly.", "Coast Grid", "grid")]),
        ("cleanup-6", 120, "Schools in the lower town closed today", [jonas], False, False, para(
            "The education office has closed four schools below the railway line:",
        ) + "<ol><li>Harbour Primary</li><li>St Bride's</li><li>Mill Lane Nursery</li><li>Kerrow Academy</li></ol>"
            + para("Schools in the upper town are open as usual."), []),
        ("cleanup-7", 75, "Rail line reopens between Port Kerrow and Aldbury", [jonas], False, True, para(
            "The first train since the storm has left Port Kerrow after crews cleared two fallen trees near "
            "Aldbury tunnel. Trains run every hour for the rest of the day.",
            "https://rail.example/news/kerrow-aldbury-reopens",
        ), [card("https://rail.example/news/kerrow-aldbury-reopens", "Line reopens after storm",
                 "Hourly trains between Port Kerrow and Aldbury for the rest of the day.", "Coast Rail", "rail")]),
        ("cleanup-8", 40, "What the weather service says about tonight", [maya], False, False, para(
            "A second, weaker low follows Isolde tonight. Expect showers and fresh winds, but nothing like "
            "the weekend.",
            "https://weather.example/forecast/tonight",
        ), [card("https://weather.example/forecast/tonight", "Forecast: tonight and tomorrow",
                 "Showers, winds easing by morning, highs of 11°C.", "Weather Service", "weather")]),
        ("cleanup-9", 12, "Bin collections resume on Thursday", [jonas, maya], False, False, para(
            "The council says bin lorries will be back on their usual rounds from Thursday. Storm debris can be "
            "left beside bins, tied in bags, from Wednesday evening.",
        ), []),
    ]  # fmt: skip


def column_file(slug, title, started_at, state, standfirst, header, credit, posts, now):
    return {
        "series": SERIES,
        "column": {
            "title": title,
            "slug": slug,
            "state": state,
            "started_at": started_at.isoformat(),
            "ended_at": (started_at + timedelta(hours=9)).isoformat() if state == "ended" else None,
            "standfirst": standfirst,
            "header_photo": header,
            "header_photo_alt": "Storm clouds over the headland and lighthouse at Port Kerrow",
            "photo_credit": credit,
            "press_image": header,
        },
        "posts": [
            {
                "key": key,
                "headline": headline,
                "body_html": body_html,
                "authors": authors,
                "published_at": (now - timedelta(minutes=minutes_ago)).isoformat(),
                "status": "published",
                "pinned": pinned,
                "key_event": key_event,
                "link_cards": [{**c, "embedded_at": (now - timedelta(minutes=minutes_ago)).isoformat()} for c in cards],
            }
            for key, minutes_ago, headline, authors, pinned, key_event, body_html, cards in posts
        ],
    }


def write_demo_files(folder, now):
    """Write the two column files and their pictures into folder; return the files, ended column first."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    pictures = {"header-live": header_photo(7), "header-ended": header_photo(3, dark=True)}
    pictures.update(
        {kind: card_picture(kind, n) for n, kind in enumerate(["river", "ferry", "grid", "rail", "weather"])}
    )
    for name, image in pictures.items():
        (folder / "images" / f"{name}.jpg").write_bytes(jpeg(image))

    yesterday = now - timedelta(days=1)
    ended = column_file(
        ENDED_SLUG,
        "Storm Isolde makes landfall",
        yesterday - timedelta(hours=4),
        "ended",
        "The strongest storm of the season reached the Kerrow coast on Sunday evening.",
        "images/header-ended.jpg",
        "Illustration via the Liveblog demo",
        ended_posts(),
        now - timedelta(hours=14),
    )
    live = column_file(
        LIVE_SLUG,
        "Storm Isolde: clean-up begins as the Kerrow river rises",
        now - timedelta(hours=6),
        "live",
        "The wind has dropped, but flood warnings stay in place along the lower Kerrow. "
        "Follow our reporters across Port Kerrow through the day.",
        "images/header-live.jpg",
        "Illustration via the Liveblog demo",
        live_posts(),
        now,
    )
    paths = []
    for name, data in (("ended.json", ended), ("live.json", live)):
        path = folder / name
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


def author_portraits():
    return {"Maya Okafor": portrait("MO", (40, 92, 120)), "Jonas Brandt": portrait("JB", (120, 64, 40))}


def as_upload(image, name):
    return SimpleUploadedFile(name, jpeg(image), content_type="image/jpeg")
