"""Render synthetic paper documents: A4 letters with text and tables, and ID-1 cards."""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from ..rectify import A4_RATIO, ID1_RATIO

Image = np.ndarray

WORDS = (
    "Kela päätös asumistuki hakemus liite tulot vuokra maksu eräpäivä summa euroa "
    "Verohallinto verokortti ennakkoperintä tilinumero viitenumero asiakas numero "
    "Migri oleskelulupa hakija syntymäaika osoite postinumero kunta päivämäärä "
    "decision invoice statement account balance total amount reference page of"
).split()


class PageKind(StrEnum):
    """The paper shapes the generator draws."""

    A4 = "a4"
    ID_CARD = "id_card"


def _line(rng: np.random.Generator, words: int) -> str:
    """Return a line of random words."""
    return " ".join(str(rng.choice(WORDS)) for _ in range(words))


def _text_block(
    page: Image, rng: np.random.Generator, x: int, y: int, width: int, lines: int, scale: float
) -> int:
    """Draw a paragraph of text lines; return the y below it."""
    ink = int(rng.integers(0, 90))
    step = int(32 * scale) + 4
    for _ in range(lines):
        text = _line(rng, 14)
        # Trim the line to the block's width.
        while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
            text = text[: text.rfind(" ")] if " " in text else ""
        cv2.putText(page, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (ink,) * 3, 1, cv2.LINE_AA)
        y += step
    return y


def _table(page: Image, rng: np.random.Generator, x: int, y: int, width: int, rows: int) -> int:
    """Draw a ruled table with numbers; return the y below it."""
    cols = int(rng.integers(3, 6))
    row_h, col_w = 36, width // cols
    for r in range(rows + 1):
        cv2.line(page, (x, y + r * row_h), (x + cols * col_w, y + r * row_h), (40, 40, 40), 1)
    for c in range(cols + 1):
        cv2.line(page, (x + c * col_w, y), (x + c * col_w, y + rows * row_h), (40, 40, 40), 1)
    for r in range(rows):
        for c in range(cols):
            text = str(rng.choice(WORDS)) if c == 0 else f"{rng.integers(1, 99999) / 100:.2f}"
            org = (x + c * col_w + 8, y + r * row_h + 25)
            font = cv2.FONT_HERSHEY_SIMPLEX
            cv2.putText(page, text, org, font, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    return y + rows * row_h + 30


def render_a4(rng: np.random.Generator, width: int = 1240) -> Image:
    """Render an A4 page (portrait, 1:sqrt(2)) of letter-like text and a table."""
    height = round(width * A4_RATIO)
    tint = rng.integers(225, 247, size=3)
    page = np.empty((height, width, 3), np.uint8)
    page[:] = tint
    margin = int(width * rng.uniform(0.07, 0.11))
    inner = width - 2 * margin
    s = width / 1240
    # Letterhead: a coloured logo block and the sender's name.
    logo = tuple(int(v) for v in rng.integers(30, 200, size=3))
    cv2.rectangle(page, (margin, margin), (margin + int(90 * s), margin + int(90 * s)), logo, -1)
    cv2.putText(
        page,
        _line(rng, 2).upper(),
        (margin + int(120 * s), margin + int(60 * s)),
        cv2.FONT_HERSHEY_DUPLEX,
        1.4 * s,
        (20, 20, 20),
        2,
        cv2.LINE_AA,
    )
    y = margin + int(180 * s)
    while y < height - margin - 200 * s:
        if rng.random() < 0.25:
            y = _table(page, rng, margin, y, inner, int(rng.integers(3, 7)))
        else:
            y = _text_block(page, rng, margin, y, inner, int(rng.integers(3, 9)), 0.8 * s)
            y += int(30 * s)
    cv2.putText(
        page,
        f"{rng.integers(1, 5)} / 4",
        (width // 2 - 30, height - margin // 2),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7 * s,
        (60, 60, 60),
        1,
        cv2.LINE_AA,
    )
    return page


def render_id_card(rng: np.random.Generator, width: int = 1012) -> Image:
    """Render an ID-1 card (85.6 x 54 mm, landscape) with a photo and data fields."""
    height = round(width / ID1_RATIO)
    top = rng.integers(170, 240, size=3).astype(np.float32)
    bottom = rng.integers(150, 235, size=3).astype(np.float32)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    page = (top * (1 - t) + bottom * t).repeat(width, axis=1).astype(np.uint8)
    # Guilloche-like fine waves across the card.
    xs = np.arange(width)
    for k in range(6):
        ys = (height * (0.2 + 0.12 * k) + 12 * np.sin(xs / (30 + 7 * k))).astype(np.int32)
        pts = np.stack([xs, ys], axis=1).reshape(-1, 1, 2)
        cv2.polylines(page, [pts], False, tuple(int(v) - 25 for v in top), 1, cv2.LINE_AA)
    # The photo: a face-like ellipse on a plain ground, with texture.
    px, py, pw, ph = int(width * 0.05), int(height * 0.22), int(width * 0.28), int(height * 0.66)
    photo: Image = np.full((ph, pw, 3), rng.integers(150, 220, size=3), np.uint8)
    skin = tuple(int(v) for v in (rng.integers(90, 170), rng.integers(120, 190), 200))
    cv2.ellipse(photo, (pw // 2, ph // 2), (pw // 3, ph // 3), 0, 0, 360, skin, -1)
    hair = tuple(int(v) for v in rng.integers(10, 90, size=3))
    cv2.ellipse(photo, (pw // 2, ph // 3), (pw // 3, ph // 6), 0, 180, 360, hair, -1)
    cv2.ellipse(photo, (pw // 2, ph), (pw // 2, ph // 4), 0, 180, 360, hair, -1)
    photo = cv2.add(photo, rng.integers(0, 18, size=photo.shape, dtype=np.uint8))
    page[py : py + ph, px : px + pw] = cv2.GaussianBlur(photo, (5, 5), 0)
    s = width / 1012
    cv2.putText(
        page,
        "SUOMI FINLAND",
        (int(width * 0.05), int(height * 0.14)),
        cv2.FONT_HERSHEY_DUPLEX,
        1.1 * s,
        (90, 40, 20),
        2,
        cv2.LINE_AA,
    )
    y = int(height * 0.3)
    for _ in range(5):
        cv2.putText(
            page,
            _line(rng, 1).upper(),
            (int(width * 0.38), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 * s,
            (80, 80, 80),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            page,
            _line(rng, 2),
            (int(width * 0.38), y + int(30 * s)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8 * s,
            (20, 20, 20),
            2,
            cv2.LINE_AA,
        )
        y += int(height * 0.13)
    return page


def card_mask(height: int, width: int) -> Image:
    """Return the 8-bit mask of an ID-1 card with its rounded corners (3.18 mm radius)."""
    radius = max(1, round(width * 3.18 / 85.6))
    mask = np.zeros((height, width), np.uint8)
    cv2.rectangle(mask, (radius, 0), (width - 1 - radius, height - 1), 255, -1)
    cv2.rectangle(mask, (0, radius), (width - 1, height - 1 - radius), 255, -1)
    for cx, cy in (
        (radius, radius),
        (width - 1 - radius, radius),
        (radius, height - 1 - radius),
        (width - 1 - radius, height - 1 - radius),
    ):
        cv2.circle(mask, (cx, cy), radius, 255, -1, cv2.LINE_AA)
    return mask


def render_page(kind: PageKind, seed: int = 0) -> Image:
    """Render a deterministic page of the given kind (BGR, upright)."""
    rng = np.random.default_rng(seed)
    return render_a4(rng) if kind is PageKind.A4 else render_id_card(rng)


def sample_page(seed: int = 7) -> Image:
    """Return the demo's sample page: an upright A4 letter, as a fake camera would show it."""
    return render_page(PageKind.A4, seed)
